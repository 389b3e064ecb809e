"""The project's replaycodegen settings, shared by the command line and the pytest plugin.

``replaycodegen status``, ``lint`` and ``record`` read the same ``codegen_*`` ini keys as
the plugin (``codegen_prompt_builder``, ``codegen_model``, ``codegen_max_age``), from the
file pytest would use: the first of ``pytest.toml``, ``.pytest.toml``, ``pytest.ini``,
``.pytest.ini``, ``pyproject.toml`` (``[tool.pytest.ini_options]`` or ``[tool.pytest]``),
``tox.ini`` (``[pytest]``) and ``setup.cfg`` (``[tool:pytest]``) holding a pytest section,
in the current folder or the nearest folder above it. A command-line option wins over it.

A prompt builder setting is ``module:attribute``: a ``PromptBuilder`` subclass (called
with no arguments), an instance, or a function returning one.
"""

from __future__ import annotations

import configparser
import datetime as _dt
import importlib
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replaycodegen.errors import ReplayCodegenError
from replaycodegen.generation.prompt import PromptBuilder

if TYPE_CHECKING:
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy

CONFIG_FILES: tuple[str, ...] = (
    "pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini",
    "setup.cfg",
)


class SettingError(ReplayCodegenError, ValueError):
    """A setting (option or ini key) has a value that cannot be used; says which and why."""


@dataclass(frozen=True)
class ProjectSettings:
    """The ``codegen_*`` keys of the project's pytest configuration (``{}`` if none)."""

    path: Path | None = None
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value = self.values.get(key)
        return value.strip() or None if isinstance(value, str) else None

    def where(self, key: str) -> str:
        return f"{key} in {self.path}" if self.path is not None else key


def _toml_section(path: Path, *keys: str) -> dict[str, Any] | None:
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data if isinstance(data, dict) else None


def _ini_section(path: Path, section: str) -> dict[str, Any] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    return dict(parser[section]) if parser.has_section(section) else None


def _pytest_section(path: Path) -> dict[str, Any] | None:
    name = path.name
    if name in ("pytest.toml", ".pytest.toml"):
        return _toml_section(path, "pytest") or {}
    if name in ("pytest.ini", ".pytest.ini"):  # counts even without a [pytest] section
        return _ini_section(path, "pytest") or {}
    if name == "pyproject.toml":
        return _toml_section(path, "tool", "pytest", "ini_options") or _toml_section(
            path, "tool", "pytest")
    if name == "tox.ini":
        return _ini_section(path, "pytest")
    return _ini_section(path, "tool:pytest")


def find_project_settings(start: str | os.PathLike[str] | None = None) -> ProjectSettings:
    """The pytest configuration pytest would find from ``start`` (default: the current
    folder); only its ``codegen_*`` keys are kept."""
    base = Path(start or os.getcwd()).resolve()
    for folder in (base, *base.parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            section = _pytest_section(candidate)
            if section is not None:
                values = {str(k): str(v) for k, v in section.items()
                          if str(k).startswith("codegen_") and v is not None}
                return ProjectSettings(candidate, values)
    return ProjectSettings()


def load_prompt_builder(spec: str, *, where: str = "--prompt-builder") -> PromptBuilder:
    """The prompt builder named by ``module:attribute`` (see the module docstring)."""
    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or not attribute:
        raise SettingError(f"{where}: {spec!r} is not module:attribute (e.g. "
                           "myproject.prompts:TersePrompt)")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as pytest's rootdir: project modules import
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise SettingError(f"{where}: cannot import {module_name!r} ({type(exc).__name__}: "
                           f"{exc}); check the module name and that it is importable from "
                           "here") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise SettingError(f"{where}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    builder = target
    if not isinstance(builder, PromptBuilder) and callable(builder):
        try:
            builder = builder()
        except Exception as exc:
            raise SettingError(f"{where}: {spec} could not be created ({type(exc).__name__}: "
                               f"{exc})") from None
    if not isinstance(builder, PromptBuilder):
        raise SettingError(f"{where}: {spec} is a {type(builder).__name__}, not a PromptBuilder "
                           "(subclass replaycodegen.PromptBuilder)")
    return builder


def resolve_model(option: str | None, project: ProjectSettings) -> str:
    """The model a recording would use: the option, else ``codegen_model``, else
    ``$REPLAYCODEGEN_MODEL``, else the OpenAI generator's default."""
    from replaycodegen.generation.openai_generator import DEFAULT_MODEL

    env = os.environ.get("REPLAYCODEGEN_MODEL", "").strip()
    return option or project.get("codegen_model") or env or DEFAULT_MODEL


def resolve_prompt_builder(option: str | None, project: ProjectSettings) -> PromptBuilder:
    """``--prompt-builder``, else ``codegen_prompt_builder``, else the default builder."""
    if option:
        return load_prompt_builder(option)
    spec = project.get("codegen_prompt_builder")
    if spec:
        return load_prompt_builder(spec, where=project.where("codegen_prompt_builder"))
    return PromptBuilder()


def resolve_max_age(option: str | None, project: ProjectSettings
                    ) -> tuple[_dt.timedelta | None, str | None]:
    """``--max-age``, else ``codegen_max_age``: ``(duration, text)``, ``(None, None)`` if unset."""
    from replaycodegen.lifecycle.freshness.expiry import parse_max_age

    text, where = option, "--max-age"
    if not text:
        text, where = project.get("codegen_max_age"), project.where("codegen_max_age")
    if not text:
        return None, None
    try:
        return parse_max_age(text), text
    except ValueError as exc:
        raise SettingError(f"{where}: {exc}") from None


def freshness_policy(project: ProjectSettings, *, prompt_builder: str | None = None,
                     model: str | None = None, max_age: str | None = None) -> FreshnessPolicy:
    """What ``status`` and ``record --stale`` compare entries with (options win over ini)."""
    from replaycodegen.lifecycle.freshness.status import FreshnessPolicy

    age, age_text = resolve_max_age(max_age, project)
    return FreshnessPolicy(
        prompt_builder=resolve_prompt_builder(prompt_builder, project),
        model=resolve_model(model, project),
        max_age=age,
        max_age_text=age_text,
    )
