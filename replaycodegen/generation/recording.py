"""``RecordingCodeGenerator``: wraps a real generator, replays hits, records misses."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from replaycodegen.cassette.keys import DEFAULT_MATCH_ON, validate_match_on
from replaycodegen.cassette.loader import load_cassette
from replaycodegen.cassette.miss import (
    ALL_PLAYED,
    NO_MATCH,
    NO_SUCH_CASSETTE,
    explain_miss,
    record_command,
)
from replaycodegen.cassette.model import Cassette, Entry, entry_from_pair
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.cassette.store import CassetteStore
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.record_mode import RecordMode
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

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


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RecordingCodeGenerator:
    """Record (request, error chain) -> code pairs from any ``CodeGenerator`` into a cassette.

    ``record_mode`` is a ``RecordMode`` or its name; ``None`` means ``once``, or ``none``
    when the ``CI`` environment variable is set. Failures of the real generator are never
    recorded. Use as a context manager (or call ``close()``) to fsync at the end.
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
    ) -> None:
        self.generator = generator
        self.path = Path(cassette)
        self.record_mode = RecordMode.parse(record_mode)
        requested = validate_match_on(match_on) if match_on is not None else None
        keys = [*secrets, getattr(generator, "api_key", None), getattr(generator, "_api_key", None)]
        self.store = CassetteStore(
            self.path, scrubber=scrubber or Scrubber([k for k in keys if isinstance(k, str)])
        )
        self.existed_at_start = self.path.exists()
        mode = self.record_mode
        self.records = mode in (RecordMode.NEW_EPISODES, RecordMode.ALL, RecordMode.REWRITE) or (
            mode is RecordMode.ONCE and not self.existed_at_start
        )
        loaded: Cassette | None = None
        if self.existed_at_start and self.records:
            loaded = self.store.load(match_on=requested)  # checks it can write, takes the lock
        elif self.existed_at_start:
            loaded = load_cassette(self.path, match_on=requested)  # replay only: read-only is fine
        if mode is RecordMode.REWRITE or loaded is None:
            loaded = Cassette(
                path=str(self.path), match_on=requested or DEFAULT_MATCH_ON, description=description
            )
            if mode is RecordMode.REWRITE:
                self.store.write(loaded)
        self.cassette = loaded
        self.recorded: list[Entry] = []
        self.replaced: list[Entry] = []
        """Entries that record mode ``all`` dropped to make room for new recordings."""
        self.misses = 0
        self._replaced: set[str] = set()
        self._last: dict[str, Any] = {}

    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        chain = list(error_chain)
        key = self.cassette.key_for(request, chain)
        if self.record_mode is not RecordMode.ALL:
            selection = self.cassette.select(
                request, chain, key=key, allow_repeat=None if not self.records else False
            )
            if selection is not None:
                self._last = {"recorded": False, "entry_id": selection.entry.id, "key": key}
                return selection.entry.code
            if not self.records:
                self.misses += 1
                raise self._miss(request, chain, key)
        code, meta, raw = await self._call_real(request, chain)
        entry = entry_from_pair(
            entry_id="",
            request=request,
            error_chain=chain,
            code=code,
            response=raw,
            match_on=self.cassette.match_on,
            meta=meta,
        )
        if self.record_mode is RecordMode.ALL and key not in self._replaced:
            self._replaced.add(key)
            self.replaced.extend(self.store.replace_group(self.cassette, key, entry))
        else:
            self.store.add(self.cassette, entry)
        self.cassette.set_position(key, len(self.cassette.group(key)))
        self.cassette.played_ids.add(entry.id)
        self.recorded.append(entry)
        self._last = {"recorded": True, "entry_id": entry.id, "key": key, **meta}
        return code

    async def _call_real(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem]
    ) -> tuple[str, dict[str, Any], str | None]:
        started = time.perf_counter()
        with_meta = getattr(self.generator, "generate_code_with_metadata", None)
        if with_meta is not None:
            code, reported = await with_meta(request, chain)
        else:
            code = await self.generator.generate_code(request, chain)
            reported = self.generator.get_generation_metadata()
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        meta: dict[str, Any] = {"recorded_at": _utc_now()}
        meta.update((k, reported[k]) for k in STORED_META if reported.get(k) is not None)
        meta.setdefault("latency_ms", latency_ms)
        meta = json.loads(json.dumps(meta, default=str))
        raw = reported.get("raw_response")
        return code, meta, raw if isinstance(raw, str) else None

    def _miss(
        self, request: PythonExecutionRequest, chain: list[ErrorChainItem], key: str
    ) -> Exception:
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
