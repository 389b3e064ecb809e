"""The plugin's options: each one on the command line and as an ini key of the same name.

Precedence: command line, then ini file, then the default. For ``model`` and ``base_url``
the ``codegen_config`` fixture sits between the two: command line > fixture > ini.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all", "rewrite", "stale")
RECORDING_MODES: frozenset[str] = frozenset(RECORD_MODES) - {"none"}
UNUSED_ACTIONS: tuple[str, ...] = ("ignore", "warn", "fail")
DEFAULT_RECORD_MODE = "none"
DEFAULT_UNUSED = "warn"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
GUARD_SCOPES = ("codegen", "all")
DEFAULT_GUARD_SCOPE = "codegen"


class SetupError(Exception):
    """A test's generator cannot be set up as configured; the message says why and the fix."""

_HELP = {
    "record_mode": "when to call the real model: none (replay only, the default), once, "
    "new_episodes, all, rewrite",
    "cassette_dir": "folder for cassettes (default: cassettes/ next to each test module); "
    "a test's cassette is <module name>/<test>.codegen.yaml in it",
    "unused": "what to do with cassette entries no test played: ignore, warn (default), "
    "fail (exit code 1)",
    "model": "model to record with (default: REPLAYCODEGEN_MODEL, else gpt-4o-mini)",
    "base_url": "OpenAI-compatible server to record from (default: OPENAI_BASE_URL, "
    "else the OpenAI API)",
    "report": "write a JSON report of played, recorded and unused entries to this file "
    "(read by `replaycodegen prune --unused-from`)",
    "keep_failed": "keep the entries a failing test recorded (default: drop them)",
    "guard": "which tests the live-call guard covers in record mode none: codegen (tests "
    "using the codegen fixture, the default) or all (every test)",
    "api_key_env": "environment variable that must hold the API key before recording "
    "starts (default OPENAI_API_KEY; empty: skip the check)",
    "max_calls": "recording budget: at most N live calls in the whole session (xdist workers "
    "included); past it a call fails the test without reaching the model",
    "max_tokens": "recording budget: start no live call once N tokens are used in the session "
    "(checked before each call with the usage known so far)",
    "prompt_builder": "the prompt builder to record with, module:attribute (a PromptBuilder "
    "subclass); `replaycodegen status` reads the same setting",
    "max_age": "record mode stale also re-records entries older than this, e.g. 90d; "
    "`replaycodegen status` and `lint` read the same setting",
    "dry_run": "in a recording mode, call nothing and write nothing: a call that would go "
    "live fails its test with a message naming the request",
}


_CACHE_HELP = {
    "cache_dir": "folder of the parsed-cassette cache (default: REPLAYCODEGEN_CACHE_DIR, "
    "else replaycodegen/ in pytest's cache directory)",
    "no_cache": "parse every cassette, do not use the parsed-cassette cache",
}


def cache_choice(config: pytest.Config) -> Path | bool | None:
    """Where the parsed-cassette cache lives for this run: a folder, ``False`` (off), or
    ``None`` (REPLAYCODEGEN_CACHE_DIR decides: the environment's choice)."""
    if config.getoption("no_codegen_cache", False):
        return False
    chosen = _path(config, "cache_dir")
    if chosen is not None:
        return chosen
    if os.environ.get("REPLAYCODEGEN_CACHE_DIR") is not None:
        return None
    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return None
    try:
        return Path(cache.mkdir("replaycodegen"))
    except OSError:
        return None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("replaycodegen", "replaycodegen: LLM code generation cassettes")
    group.addoption("--codegen-record-mode", choices=RECORD_MODES, help=_HELP["record_mode"])
    group.addoption("--codegen-cassette-dir", metavar="DIR", help=_HELP["cassette_dir"])
    group.addoption("--codegen-unused", choices=UNUSED_ACTIONS, help=_HELP["unused"])
    group.addoption("--codegen-model", metavar="MODEL", help=_HELP["model"])
    group.addoption("--codegen-base-url", metavar="URL", help=_HELP["base_url"])
    group.addoption("--codegen-report", metavar="PATH", help=_HELP["report"])
    group.addoption("--codegen-keep-failed", action="store_true", default=None,
                    help=_HELP["keep_failed"])
    group.addoption("--codegen-guard", choices=GUARD_SCOPES, help=_HELP["guard"])
    group.addoption("--codegen-api-key-env", metavar="NAME", help=_HELP["api_key_env"])
    group.addoption("--codegen-max-calls", metavar="N", help=_HELP["max_calls"])
    group.addoption("--codegen-max-tokens", metavar="N", help=_HELP["max_tokens"])
    group.addoption("--codegen-prompt-builder", metavar="MODULE:ATTR",
                    help=_HELP["prompt_builder"])
    group.addoption("--codegen-max-age", metavar="AGE", help=_HELP["max_age"])
    group.addoption("--codegen-dry-run", action="store_true", default=None, help=_HELP["dry_run"])
    group.addoption("--codegen-cache-dir", metavar="DIR", help=_CACHE_HELP["cache_dir"])
    group.addoption("--no-codegen-cache", action="store_true", default=False,
                    help=_CACHE_HELP["no_cache"])
    parser.addini("codegen_cache_dir", _CACHE_HELP["cache_dir"], default=None)
    for name, text in _HELP.items():
        if name in ("keep_failed", "dry_run"):
            parser.addini(f"codegen_{name}", text, type="bool")
        else:
            parser.addini(f"codegen_{name}", text, default=None)


@dataclass(frozen=True)
class CodegenSettings:
    """The resolved options of one pytest run."""

    record_mode: str
    cassette_dir: Path | None
    unused: str
    model_cli: str | None
    model_ini: str | None
    base_url_cli: str | None
    base_url_ini: str | None
    report_path: Path | None
    keep_failed: bool
    api_key_env: str
    guard: str = DEFAULT_GUARD_SCOPE
    max_calls: int | None = None
    max_tokens: int | None = None
    prompt_builder: str | None = None
    max_age: _dt.timedelta | None = None
    dry_run: bool = False

    @property
    def records(self) -> bool:
        return self.record_mode in RECORDING_MODES


def _cli(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"codegen_{name}", None)
    return str(value) if value not in (None, "") else None


def _ini(config: pytest.Config, name: str) -> str | None:
    value = config.getini(f"codegen_{name}")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _choice(config: pytest.Config, name: str, choices: tuple[str, ...], default: str) -> str:
    cli = _cli(config, name)
    if cli is not None:
        return cli
    ini = _ini(config, name)
    if ini is None:
        return default
    if ini not in choices:
        where = config.inipath or "the ini file"
        raise pytest.UsageError(
            f"replaycodegen: codegen_{name} = {ini!r} in {where} is not valid; "
            f"use one of: {', '.join(choices)}"
        )
    return ini


def _path(config: pytest.Config, name: str) -> Path | None:
    cli = _cli(config, name)
    if cli is not None:
        return Path(os.path.abspath(config.invocation_params.dir / Path(cli).expanduser()))
    ini = _ini(config, name)
    if ini is None:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return Path(os.path.abspath(base / Path(ini).expanduser()))


def read_settings(config: pytest.Config) -> CodegenSettings:
    """Resolve every option; a bad ini value is a ``pytest.UsageError`` naming the key."""
    cli_keep = config.getoption("codegen_keep_failed", None)
    raw = config.getoption("codegen_api_key_env", None)  # "" (given empty) skips the check
    if raw is None:
        raw = config.getini("codegen_api_key_env")
    api_key_env = DEFAULT_API_KEY_ENV if raw is None else str(raw).strip()
    return CodegenSettings(
        record_mode=_choice(config, "record_mode", RECORD_MODES, DEFAULT_RECORD_MODE),
        cassette_dir=_path(config, "cassette_dir"),
        unused=_choice(config, "unused", UNUSED_ACTIONS, DEFAULT_UNUSED),
        model_cli=_cli(config, "model"),
        model_ini=_ini(config, "model"),
        base_url_cli=_cli(config, "base_url"),
        base_url_ini=_ini(config, "base_url"),
        report_path=_path(config, "report"),
        keep_failed=bool(cli_keep) or bool(config.getini("codegen_keep_failed")),
        api_key_env=api_key_env,
        guard=_choice(config, "guard", GUARD_SCOPES, DEFAULT_GUARD_SCOPE),
        max_calls=_count(config, "max_calls"),
        max_tokens=_count(config, "max_tokens"),
        prompt_builder=_cli(config, "prompt_builder") or _ini(config, "prompt_builder"),
        max_age=_max_age(config),
        dry_run=bool(config.getoption("codegen_dry_run", None))
        or bool(config.getini("codegen_dry_run")),
    )


def _where(config: pytest.Config, name: str) -> str:
    if _cli(config, name) is not None:
        return f"--codegen-{name.replace('_', '-')}"
    return f"codegen_{name} in {config.inipath or 'the ini file'}"


def _count(config: pytest.Config, name: str) -> int | None:
    text = _cli(config, name) or _ini(config, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise pytest.UsageError(f"replaycodegen: {_where(config, name)} = {text!r} is not a "
                                "whole number >= 0")
    return value


def _max_age(config: pytest.Config) -> _dt.timedelta | None:
    text = _cli(config, "max_age") or _ini(config, "max_age")
    if text is None:
        return None
    from replaycodegen.lifecycle.freshness.expiry import parse_max_age

    try:
        return parse_max_age(text)
    except ValueError as exc:
        raise pytest.UsageError(f"replaycodegen: {_where(config, 'max_age')}: {exc}") from None


def check_api_key(settings: CodegenSettings) -> None:
    """Refuse to start a recording session without a key: a UsageError before any test runs."""
    name = settings.api_key_env
    if settings.dry_run or not settings.records or not name or os.environ.get(name, "").strip():
        return
    raise pytest.UsageError(
        f"replaycodegen: record mode '{settings.record_mode}' calls the real model and needs "
        f"an API key, but {name} is not set.\n"
        f"  fix: export {name}=... (any non-empty value for a local server such as "
        "replaycodegen.testing.FakeOpenAIServer), or replay offline with "
        "--codegen-record-mode=none.\n"
        "  If your codegen_config fixture supplies api_key or its own generator, point "
        "--codegen-api-key-env (ini: codegen_api_key_env) at the variable it reads, or set "
        "it to an empty value to skip this check."
    )
