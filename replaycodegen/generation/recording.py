"""``RecordingCodeGenerator``: wraps a real generator, replays hits, records misses.

Besides the record modes it enforces a recording budget (``max_calls``, ``max_tokens``, or
a shared ``RecordingBudget``), can do a dry run (``dry_run=True``: every call that would go
live raises ``WouldGoLive`` and is listed in ``would_call``; nothing is called or written),
and writes provenance: ``origin: recorded`` and ``meta.code_sha256`` on each recording.
Re-recording (``all``, ``rewrite``, ``stale``) never replaces or drops crafted or hand
entries (``kept`` lists them).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON, validate_match_on
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.miss import (
    ALL_PLAYED,
    NO_MATCH,
    NO_SUCH_CASSETTE,
    explain_miss,
    record_command,
)
from replaycodegen.cassette.model import (
    Cassette,
    Entry,
    RecordedError,
    Selection,
    entry_from_pair,
)
from replaycodegen.cassette.provenance import RECORDED, code_sha256, is_kept, kept_entries
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.errors import CassetteMiss
from replaycodegen.generation.budget import RecordingBudget
from replaycodegen.generation.missed import MissedCall
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.record_mode import RecordMode
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest


class StaleSelector(Protocol):
    """Which entries record mode ``stale`` re-records (``FreshnessPolicy`` of
    ``replaycodegen.lifecycle.freshness.status`` is one)."""

    def stale_entry_ids(self, cassette: Cassette) -> Iterable[str]: ...

STORED_META = (
    "generator",
    "provider",
    "model",
    "usage",
    "latency_ms",
    "prompt_version",
    "prompt_sha256",
    "temperature",
    "max_tokens",
)
"""Metadata keys a recording keeps; anything else the inner generator reports is dropped."""

DRY_RUN = "dry run"


class WouldGoLive(CassetteMiss):
    """A dry run stopped at a call that would have gone to the real generator."""


def describe_request(request: PythonExecutionRequest, chain: Sequence[object]) -> str:
    """``request 'Mean beam current' (attempt 2)``."""
    query = " ".join(request.user_query.split())
    if len(query) > 60:
        query = query[:57] + "..."
    return f"request {query!r} (attempt {len(chain) + 1})"


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def call_with_metadata(
    generator: CodeGenerator, request: PythonExecutionRequest, chain: Sequence[ErrorChainItem]
) -> tuple[str, dict[str, Any]]:
    """The code and this call's metadata: ``generate_code_with_metadata`` where the
    generator has it (safe when tasks share it), else ``generate_code`` and then
    ``get_generation_metadata``."""
    with_meta = getattr(generator, "generate_code_with_metadata", None)
    if with_meta is not None:
        code, reported = await with_meta(request, chain)
        return code, reported
    code = await generator.generate_code(request, chain)
    return code, generator.get_generation_metadata()


class RecordingCodeGenerator:
    """Record (request, error chain) -> code pairs from any ``CodeGenerator`` into a cassette.

    ``record_mode`` is a ``RecordMode`` or its name; ``None`` means ``once``, or ``none``
    when the ``CI`` environment variable is set. Failures of the real generator are never
    recorded. Use as a context manager (or call ``close()``) to fsync at the end.

    ``max_calls`` / ``max_tokens`` (or a ``budget`` shared with other recorders) limit the
    live calls: past them a call raises ``BudgetExceeded`` without reaching the generator.
    ``dry_run``: calls that would go live raise ``WouldGoLive`` instead; nothing is written.
    Record mode ``stale`` re-records, in place, the entries ``rerecord`` names (default: those
    ``replaycodegen status`` calls stale under ``freshness``, or under the generator's own
    prompt builder and model and ``max_age``), replays the others and records what is missing.
    """

    def __init__(
        self,
        generator: CodeGenerator,
        cassette: str | os.PathLike[str],
        record_mode: RecordMode | str | None = None,
        *,
        match_on: Sequence[str] | None = None,
        description: str | None = None,
        secrets: Sequence[str] = (),
        scrubber: Scrubber | None = None,
        max_calls: int | None = None,
        max_tokens: int | None = None,
        budget: RecordingBudget | None = None,
        dry_run: bool = False,
        rerecord: Collection[str] | None = None,
        freshness: StaleSelector | None = None,
    ) -> None:
        self.generator = generator
        self.path = Path(cassette)
        self.record_mode = RecordMode.parse(record_mode)
        if budget is not None and (max_calls is not None or max_tokens is not None):
            raise ValueError("give max_calls/max_tokens or a budget, not both")
        self.budget = budget if budget is not None else RecordingBudget(max_calls, max_tokens)
        self.dry_run = dry_run
        requested = validate_match_on(match_on) if match_on is not None else None
        keys = [*secrets, getattr(generator, "api_key", None), getattr(generator, "_api_key", None)]
        self.store = CassetteStore(
            self.path, scrubber=scrubber or Scrubber([k for k in keys if isinstance(k, str)])
        )
        self.existed_at_start = self.path.exists()
        mode = self.record_mode
        self.records = mode in (
            RecordMode.NEW_EPISODES, RecordMode.ALL, RecordMode.REWRITE, RecordMode.STALE
        ) or (mode is RecordMode.ONCE and not self.existed_at_start)
        loaded: Cassette | None = None
        if mode is RecordMode.REWRITE and not dry_run:
            # One locked read-modify-write: a file that does not load is refused, the header,
            # the comments and the crafted and hand entries stay, and what other writers
            # append after it is kept.
            from replaycodegen.cassette.writing.in_place import reset_keeping_kept

            reset_keeping_kept(self.store, match_on=requested, description=description)
            loaded = self.store.load(match_on=requested)
        elif self.existed_at_start and self.records and not dry_run:
            loaded = self.store.load(match_on=requested)  # checks it can write, takes the lock
        elif self.existed_at_start:
            loaded = load_cassette(self.path, match_on=requested)  # read-only is fine here
        rerecording = mode in (RecordMode.ALL, RecordMode.REWRITE, RecordMode.STALE)
        self.kept: list[Entry] = kept_entries(loaded.entries) if loaded and rerecording else []
        """Crafted and hand entries that re-recording keeps (modes all, rewrite, stale)."""
        if loaded is None or (mode is RecordMode.REWRITE and dry_run):
            # A dry run of rewrite empties the cassette in memory only.
            loaded = Cassette(
                self.kept, path=str(self.path), match_on=requested or DEFAULT_MATCH_ON,
                description=description,
            )
        loaded.scrubber = self.store.scrubber
        self.cassette = loaded
        self.recorded: list[Entry] = []
        self.replaced: list[Entry] = []
        """Entries that record modes ``all`` and ``stale`` replaced with new recordings."""
        self.would_call: list[tuple[PythonExecutionRequest, list[ErrorChainItem], str]] = []
        """Dry run: (request, error chain, why) of each call that would have gone live."""
        self.calls = 0
        """Live calls this recorder made (failed ones included)."""
        self.misses = 0
        self.missed_calls: list[MissedCall] = []
        """Every ``CassetteMiss`` raised, with the request and error chain that missed."""
        self._replaced: set[str] = set()
        self._last: dict[str, Any] = {}
        self.to_rerecord: set[str] = self._stale_ids(rerecord, freshness)
        """Record mode ``stale``: ids of the entries still to be re-recorded."""
        self._stale_seen: dict[str, int] = {}

    def _stale_ids(self, rerecord: Collection[str] | None,
                   freshness: StaleSelector | None) -> set[str]:
        if self.record_mode is not RecordMode.STALE:
            if rerecord is not None:
                raise ValueError("rerecord= needs record mode 'stale'")
            return set()
        by_id = {entry.id: entry for entry in self.cassette.entries}
        if rerecord is None:
            if freshness is None:
                raise ValueError(
                    "record mode 'stale' needs freshness= (what makes an entry stale, e.g. "
                    "FreshnessPolicy.for_generator(generator) from "
                    "replaycodegen.lifecycle.freshness.status) or rerecord= (the entry ids)")
            return set(freshness.stale_entry_ids(self.cassette))
        unknown = sorted(set(rerecord) - set(by_id))
        if unknown:
            raise ValueError(f"no entry {', '.join(unknown)} in {self.path} (ids: "
                             f"{', '.join(by_id) or 'none'})")
        kept = sorted(i for i in rerecord if is_kept(by_id[i]))
        if kept:
            raise ValueError(f"entry {', '.join(kept)} in {self.path} is "
                             f"{by_id[kept[0]].effective_origin}: re-recording never replaces "
                             "crafted or hand entries (edit it instead)")
        patterns = sorted(i for i in rerecord if by_id[i].request is None)
        if patterns:
            raise ValueError(f"entry {', '.join(patterns)} in {self.path} has no recorded "
                             "request to re-record")
        return set(rerecord)

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        chain = list(error_chain)
        # The plain key, or the key of the scrubbed request when that is what was recorded.
        key = self.cassette.resolve_key(request, chain)
        mode = self.record_mode
        if mode is RecordMode.STALE:
            target = self._stale_target(key)
            if target is not None:
                return await self._rerecord(request, chain, key, target)
        if mode is RecordMode.ALL:
            selection = self._kept_selection(request, chain, key)
        else:
            selection = self.cassette.select(
                request, chain, key=key, allow_repeat=None if not self.records else False
            )
        if selection is not None:
            self._last = {"recorded": False, "entry_id": selection.entry.id, "key": key}
            return selection.entry.code
        if not self.records:
            self.misses += 1
            miss = self._miss(request, chain, key)
            self.missed_calls.append(MissedCall(request, tuple(chain), miss))
            raise miss
        why = "re-record (mode all)" if mode is RecordMode.ALL else "not in the cassette"
        code, entry = await self._record_live(request, chain, key, why)
        if mode is RecordMode.ALL and key not in self._replaced:
            self.replaced.extend(self.store.replace_group(self.cassette, key, entry))
            self._replaced.update({key, str(entry.key)})
        else:
            self.store.add(self.cassette, entry)
        stored_key = str(entry.key)  # keyed on the scrubbed request when it held a secret
        self._recorded(entry, stored_key, len(self.cassette.group(stored_key)))
        return code

    def _kept_selection(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem], key: str
    ) -> Selection | None:
        """Mode ``all``: the crafted or hand entry that answers this call, if any (kept)."""
        group = self.cassette.group(key)
        if group and not any(is_kept(entry) for entry in group):
            return None
        selection = self.cassette.select(request, chain, key=key)
        return selection if selection is not None and is_kept(selection.entry) else None

    def _stale_target(self, key: str) -> Entry | None:
        """Mode ``stale``: the entry this call reaches, if it is one to re-record."""
        seen = self._stale_seen.get(key, 0)
        self._stale_seen[key] = seen + 1
        group = self.cassette.group(key)
        if seen < len(group) and group[seen].id in self.to_rerecord:
            return group[seen]
        return None

    async def _rerecord(self, request: PythonExecutionRequest, chain: list[ErrorChainItem],
                        key: str, target: Entry) -> str:
        from replaycodegen.cassette.writing.in_place import replace_entry_in_place

        position = self.cassette.group(key).index(target)
        code, entry = await self._record_live(request, chain, key, f"re-record {target.id}")
        old = replace_entry_in_place(self.store, self.cassette, target.id, entry)
        self.to_rerecord.discard(target.id)
        if old is not None:
            self.replaced.append(old)
        self._recorded(entry, str(entry.key), position + 1)
        return code

    def _recorded(self, entry: Entry, key: str, position: int) -> None:
        self.cassette.set_position(key, position)
        self.cassette.played_ids.add(entry.id)
        self.recorded.append(entry)
        self._last = {"recorded": True, "entry_id": entry.id, "key": key, **entry.meta}

    async def _record_live(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem], key: str, why: str
    ) -> tuple[str, Entry]:
        """One live call (dry run and budget permitting) and the entry to store for it."""
        what = f"{describe_request(request, chain)} for {self.path}"
        if self.dry_run:
            self.would_call.append((request, chain, why))
            raise WouldGoLive(
                f"dry run: {what} would call the real generator ({why}); nothing was called",
                reason=DRY_RUN, cassette_path=str(self.path), key=key,
            )
        self.budget.reserve(what)
        self.calls += 1
        usage: Any = None
        try:
            code, meta, raw = await self._call_real(request, chain)
            usage = meta.get("usage")
        finally:
            self.budget.settle(usage.get("total_tokens") if isinstance(usage, dict) else None)
        entry = entry_from_pair(
            entry_id="",
            request=request,
            error_chain=chain,
            code=code,
            response=raw,
            match_on=self.cassette.match_on,
            meta=meta,
        )
        self._add_provenance(entry, code, meta)
        return code, entry

    def _add_provenance(self, entry: Entry, code: str, meta: dict[str, Any]) -> None:
        """``origin: recorded``, the sha256 of the code as stored, the model asked for, and
        the digest of the prompt rendered from stored data when that is not the prompt sent."""
        entry.origin = RECORDED
        scrub = self.store.scrubber
        entry.meta["code_sha256"] = code_sha256(scrub.text(code))
        requested_model = getattr(self.generator, "model", None)
        if isinstance(requested_model, str) and requested_model != meta.get("model"):
            entry.meta["requested_model"] = requested_model
        builder = getattr(self.generator, "prompt_builder", None)
        sent = meta.get("prompt_sha256")
        if builder is None or not isinstance(sent, str) or entry.request is None:
            return
        from replaycodegen.generation.prompt_check import (
            DEFAULT_MAX_ERRORS_IN_PROMPT,
            stored_prompt_sha256,
        )

        fields = scrub.data(entry.request)
        errors = [RecordedError(scrub.text(e.type), scrub.text(e.stage), scrub.text(e.message))
                  for e in entry.error_chain]
        limit = getattr(self.generator, "max_errors_in_prompt", DEFAULT_MAX_ERRORS_IN_PROMPT)
        stored = stored_prompt_sha256(builder, fields, errors, limit)
        if stored is not None and stored != sent:
            entry.meta["prompt_check_sha256"] = stored

    async def _call_real(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem]
    ) -> tuple[str, dict[str, Any], str | None]:
        started = time.perf_counter()
        code, reported = await call_with_metadata(self.generator, request, chain)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        meta: dict[str, Any] = {"recorded_at": _utc_now()}
        meta.update((k, reported[k]) for k in STORED_META if reported.get(k) is not None)
        meta.setdefault("latency_ms", latency_ms)
        meta = json.loads(json.dumps(meta, default=str))
        raw = reported.get("raw_response")
        return code, meta, raw if isinstance(raw, str) else None

    def _miss(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem], key: str
    ) -> CassetteMiss:
        if not self.existed_at_start and not self.cassette.entries:
            reason = NO_SUCH_CASSETTE
        elif self.cassette.exhausted(key):
            reason = ALL_PLAYED
        else:
            reason = NO_MATCH
        return explain_miss(
            self.cassette,
            request,
            chain,
            reason=reason,
            key=key,
            cassette_path=str(self.path),
            fix=self.miss_fix(reason, request),
        )

    def miss_fix(self, reason: str, request: PythonExecutionRequest) -> str:
        """The advice a miss ends with: a ``replaycodegen record`` command that runs as
        printed (the pytest plugin gives the pytest command of the test instead)."""
        mode = self.record_mode.value
        path, match_on = str(self.path), self.cassette.match_on
        if reason == NO_SUCH_CASSETTE:
            command = record_command(path, "once", request, match_on)
            return (f"record mode is '{mode}' and the cassette does not exist: record it "
                    f"(needs an API key, e.g. OPENAI_API_KEY): `{command}`")
        command = record_command(path, "new_episodes", request, match_on)
        return (f"record mode is '{mode}', which never records here: record it with record "
                f"mode new_episodes (needs an API key): `{command}`, or --mode all to "
                "re-record changed requests")

    def get_generation_metadata(self) -> dict[str, Any]:
        return {
            "generator": "recording",
            "record_mode": self.record_mode.value,
            "cassette": str(self.path),
            **self._last,
        }

    def close(self) -> None:
        """fsync the cassette; the recorder stays usable."""
        self.store.close()

    def __enter__(self) -> RecordingCodeGenerator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> RecordingCodeGenerator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RecordingCodeGenerator({self.generator!r}, {str(self.path)!r}, "
            f"record_mode={self.record_mode.value!r})"
        )
