"""The recording half of the plugin's generators: imported only when a test records.

A replaying session never imports the recorder, the store or filelock (see
``_generators``). ``open_recorder`` builds ``RecordingCodeGenerator`` around the real
generator (``OpenAICodeGenerator`` unless ``codegen_config["generator"]`` says otherwise),
with the session's recording budget and, in record mode ``stale``, the freshness policy.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.writing.store import CassetteStore
from replaycodegen.errors import CassetteError, CodeGenerationError
from replaycodegen.generation.budget import RecordingBudget
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.recording import RecordingCodeGenerator, StaleSelector
from replaycodegen.models import PythonExecutionRequest

from ._claims import SessionClaims
from ._commands import CodegenFixes
from ._config import OPENAI_KEYS
from ._settings import CodegenSettings, SetupError

DRY_RUN_KEY = "dry-run-never-sent"


class PluginRecorder(RecordingCodeGenerator):
    """``RecordingCodeGenerator`` whose misses end with the pytest command of this test."""

    fixes: CodegenFixes

    def miss_fix(self, reason: str, request: PythonExecutionRequest) -> str:
        return f"record mode is '{self.record_mode.value}': " + self.fixes.miss(reason)


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


def open_recorder(
    *, path: Path, match_on: tuple[str, ...] | None, mode: str, config: Mapping[str, Any],
    settings: CodegenSettings, claims: SessionClaims, test_id: str, secrets: Sequence[str],
    fixes: CodegenFixes,
) -> PluginRecorder:
    """The recorder of one test in a recording mode."""
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
    return recorder
