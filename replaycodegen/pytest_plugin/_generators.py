"""The generator one test gets: a replaying mock, a shipped behaviour, or a recorder.

- record mode ``none``: :class:`ReplayingMockCodeGenerator` over the cassette file (a
  missing file is a ``CassetteMiss`` "no such cassette" at the first call);
- ``behavior=``: a plain ``MockCodeGenerator(behavior=...)``, in every mode;
- recording modes: ``RecordingCodeGenerator`` around the real generator
  (``OpenAICodeGenerator`` unless ``codegen_config["generator"]`` says otherwise).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replaycodegen.cassette.keys import validate_match_on
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.miss import NO_SUCH_CASSETTE, explain_miss
from replaycodegen.cassette.model import Cassette
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.errors import CassetteError, CassetteMiss, CodeGenerationError
from replaycodegen.generation.budget import RecordingBudget
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.recording import RecordingCodeGenerator, StaleSelector
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

from ._cassettes import SessionCassettes
from ._claims import SessionClaims
from ._commands import CodegenFixes
from ._paths import CassetteMarker, unknown_names
from ._settings import CodegenSettings, SetupError

OPENAI_KEYS = ("model", "base_url", "api_key", "temperature", "max_tokens", "timeout",
               "max_retries", "max_errors_in_prompt")
CONFIG_KEYS = (*OPENAI_KEYS, "generator", "match_on", "description", "secrets",
               "block_live_calls", "allowed_hosts")
"""What ``codegen_config`` may hold."""
DRY_RUN_KEY = "dry-run-never-sent"


def checked_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise SetupError(f"the codegen_config fixture must return a dict, not "
                         f"{type(config).__name__}")
    unknown = sorted(map(str, set(config) - set(CONFIG_KEYS)))
    if unknown:
        raise SetupError("codegen_config: " + unknown_names("key", unknown, CONFIG_KEYS))
    return dict(config)


def effective_match_on(marker: CassetteMarker, config: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The marker's ``match_on``, else ``codegen_config``'s, else the cassette's own."""
    fields = marker.match_on if marker.match_on is not None else config.get("match_on")
    if fields is None:
        return None
    try:
        return validate_match_on(fields)
    except ValueError as exc:
        raise SetupError(f"match_on: {exc}") from None


class ReplayingMockCodeGenerator(MockCodeGenerator):
    """``MockCodeGenerator`` over one cassette file that counts its misses and ends them
    with the pytest command that records this test.

    A missing file (``cassette=None``) raises ``CassetteMiss`` ("no such cassette") at
    the first call, unless the test configured code with ``set_code``.
    """

    def __init__(self, path: Path, cassette: Cassette | None, fixes: CodegenFixes,
                 secrets: Sequence[str] = ()) -> None:
        super().__init__(cassette=cassette, secrets=secrets)
        self.cassette_path = path
        self.file_cassette = cassette
        self.fixes = fixes

    def __repr__(self) -> str:
        state = "" if self.file_cassette is not None else ", missing"
        return f"ReplayingMockCodeGenerator({str(self.cassette_path)!r}{state})"

    def serve(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]) -> str:
        cassette = self.cassette
        if cassette is None:
            self.misses += 1
            raise self.note_miss(request, error_chain, explain_miss(
                None, request, error_chain, reason=NO_SUCH_CASSETTE,
                cassette_path=str(self.cassette_path), fix=self.fixes.miss(NO_SUCH_CASSETTE)))
        return super().serve(request, error_chain)  # counts its misses itself

    def note_miss(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem],
                  error: CassetteMiss) -> CassetteMiss:
        """A miss of the file's cassette ends with the pytest command of this test."""
        cassette = self.cassette
        if cassette is not None and cassette is self.file_cassette:
            error = explain_miss(cassette, request, error_chain, reason=error.reason,
                                 key=error.key, cassette_path=str(self.cassette_path),
                                 fix=self.fixes.miss(error.reason))
        return super().note_miss(request, error_chain, error)


class PluginRecorder(RecordingCodeGenerator):
    """``RecordingCodeGenerator`` whose misses end with the pytest command of this test."""

    fixes: CodegenFixes

    def miss_fix(self, reason: str, request: PythonExecutionRequest) -> str:
        return f"record mode is '{self.record_mode.value}': " + self.fixes.miss(reason)


@dataclass
class CassetteUse:
    """What one test did with one cassette file."""

    path: Path
    played: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    misses: int = 0


@dataclass
class GeneratorInUse:
    """The generator a test got, and what is needed to account for it afterwards."""

    generator: CodeGenerator
    path: Path | None
    mode: str
    dropped: set[str] = field(default_factory=set)

    def close(self) -> None:
        if isinstance(self.generator, RecordingCodeGenerator):
            self.generator.close()

    def recorded_ids(self) -> set[str]:
        if isinstance(self.generator, RecordingCodeGenerator):
            return {entry.id for entry in self.generator.recorded} - self.dropped
        return set()

    def drop_recorded(self) -> set[str]:
        """Remove this test's new entries from the cassette file (locked, atomic)."""
        ids = self.recorded_ids()
        if ids and self.path is not None:
            gen = self.generator
            replaced = gen.replaced if isinstance(gen, RecordingCodeGenerator) else []
            self.dropped |= CassetteStore(self.path).remove(ids, reinstate=replaced)
        return self.dropped

    def use(self) -> CassetteUse | None:
        """What the test did with its cassette file; ``None`` for behaviours (shipped
        cassettes are not accounted for) and for a missing file nobody asked for."""
        gen = self.generator
        if self.path is None:
            return None
        if isinstance(gen, RecordingCodeGenerator):
            recorded = {entry.id for entry in gen.recorded}
            return CassetteUse(self.path, set(gen.cassette.played_ids) - recorded,
                               recorded - self.dropped, set(self.dropped), gen.misses)
        if isinstance(gen, ReplayingMockCodeGenerator):
            if gen.file_cassette is None and not gen.misses:
                return None  # no file, and never asked for one (set_code)
            played = set(gen.file_cassette.played_ids) if gen.file_cassette else set()
            return CassetteUse(self.path, played, misses=gen.misses)
        return None


def _has_entries(path: Path) -> bool:
    return path.exists() and len(load_cassette(path)) > 0


def _start_afresh(path: Path, match_on: tuple[str, ...] | None, description: str) -> str:
    """Empty the cassette once per session (locked; header and comments kept). A file
    that does not load is refused with its problem and the fix, never replaced."""
    from replaycodegen.cassette.writing.in_place import reset_keeping_kept

    store = CassetteStore(path)
    reset_keeping_kept(store, match_on=match_on, description=description)  # crafted, hand stay
    store.close()
    return "rewritten"


def recorder_mode(mode: str, path: Path, claims: SessionClaims,
                  match_on: tuple[str, ...] | None, description: str,
                  dry_run: bool = False) -> str:
    """The mode to give the recorder so ``once`` and ``rewrite`` act once per session."""
    if dry_run:
        return mode  # nothing is written: the recorder itself keeps rewrite in memory
    if mode == "once":
        decision = claims.first_decision(
            path, lambda: "replay" if _has_entries(path) else "record")
        return "new_episodes" if decision == "record" else "once"
    if mode == "rewrite":
        claims.first_decision(path, lambda: _start_afresh(path, match_on, description))
        return "new_episodes"
    return mode


def real_generator(config: Mapping[str, Any], settings: CodegenSettings) -> CodeGenerator:
    """``codegen_config["generator"]`` (instance or factory), else ``OpenAICodeGenerator``."""
    custom = config.get("generator")
    if custom is not None:
        is_factory = isinstance(custom, type) or not isinstance(custom, CodeGenerator)
        made = custom() if is_factory and callable(custom) else custom
        if not isinstance(made, CodeGenerator):
            raise SetupError("codegen_config['generator'] must be a CodeGenerator or a "
                             f"function returning one, not {made!r}")
        return made
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator

    kwargs = {name: config[name] for name in OPENAI_KEYS if name in config}
    model_from_config, url_from_config = kwargs.pop("model", None), kwargs.pop("base_url", None)
    model = settings.model_cli or model_from_config or settings.model_ini
    base_url = settings.base_url_cli or url_from_config or settings.base_url_ini
    if kwargs.get("api_key") is None and settings.api_key_env:
        kwargs["api_key"] = os.environ.get(settings.api_key_env) or None
    if kwargs.get("api_key") is None and settings.dry_run:
        kwargs["api_key"] = DRY_RUN_KEY  # a dry run sends nothing
    if settings.prompt_builder is not None:
        from replaycodegen.lifecycle.freshness.project_settings import (
            SettingError,
            load_prompt_builder,
        )

        try:
            kwargs["prompt_builder"] = load_prompt_builder(
                settings.prompt_builder, where="--codegen-prompt-builder (codegen_prompt_builder)")
        except SettingError as exc:
            raise SetupError(str(exc)) from None
    return OpenAICodeGenerator(model, base_url=base_url, **kwargs)


def session_budget(settings: CodegenSettings, claims: SessionClaims) -> RecordingBudget | None:
    """The recording budget of the whole session: counts in a file of the run folder that
    every xdist worker shares (``None`` without limits)."""
    if settings.max_calls is None and settings.max_tokens is None:
        return None
    return RecordingBudget(settings.max_calls, settings.max_tokens,
                           shared_file=claims.directory / "recording-budget.json")


def stale_selector(mode: str, real: CodeGenerator,
                   max_age: datetime.timedelta | None) -> StaleSelector | None:
    """Record mode ``stale``: what ``replaycodegen status`` would call stale for ``real``."""
    if mode != "stale":
        return None
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy

    return FreshnessPolicy.for_generator(real, max_age)


def open_generator(
    *, path: Path, marker: CassetteMarker, mode: str, config: Mapping[str, Any],
    settings: CodegenSettings, claims: SessionClaims, test_id: str,
    cassettes: SessionCassettes, fixes: CodegenFixes,
) -> GeneratorInUse:
    """Build the generator for one test (see the module docstring)."""
    if marker.behavior is not None:
        return GeneratorInUse(MockCodeGenerator(behavior=marker.behavior), None, mode)
    match_on = effective_match_on(marker, config)
    secrets = [str(s) for s in config.get("secrets", ())]
    if mode == "none":
        # the test's own copy of the parsed cassette: its scrubber stays with this test
        cassette = cassettes.load(path, match_on)
        return GeneratorInUse(
            ReplayingMockCodeGenerator(path, cassette, fixes, secrets), path, mode)
    description = str(config.get("description") or f"Recorded for {test_id}")
    try:
        real = real_generator(config, settings)
    except CodeGenerationError as exc:
        env = settings.api_key_env or "OPENAI_API_KEY"
        raise SetupError(
            f"record mode '{mode}' needs the real generator, which could not start: {exc}\n"
            f"  fix: set {env}, or put api_key (or a generator) in codegen_config, or replay "
            "with --codegen-record-mode=none") from None
    try:
        recorder = PluginRecorder(
            real, path,
            recorder_mode(mode, path, claims, match_on, description, settings.dry_run),
            match_on=match_on, description=description, secrets=secrets,
            budget=session_budget(settings, claims), dry_run=settings.dry_run,
            freshness=stale_selector(mode, real, settings.max_age))
    except CassetteError:
        raise
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    recorder.fixes = fixes
    return GeneratorInUse(recorder, path, mode)
