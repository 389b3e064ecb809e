"""``create_code_generator(config)``: the generator named by the service config.

Config shape (the ``configurable`` mapping, or the whole service config holding one)::

    {"execution": {"code_generator": "mock",            # mock | openai | recording
                   "generators": {"mock": {"behavior": "success"}}}}

Settings per generator:

- ``mock``: ``behavior`` or ``cassette``, optional ``match_on``;
- ``openai``: ``model``, ``api_key``, ``base_url``, ``temperature``, ``max_tokens``,
  ``timeout``, ``max_retries``, ``max_errors_in_prompt``;
- ``recording``: ``cassette`` (required), ``record_mode``, ``match_on``, and ``generator``:
  the name of the real generator to wrap (default ``openai``, configured under its own name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replaycodegen.generation.protocol import CodeGenerator

GENERATOR_SETTINGS: dict[str, tuple[str, ...]] = {
    "mock": ("behavior", "cassette", "match_on"),
    "openai": (
        "model",
        "api_key",
        "base_url",
        "temperature",
        "max_tokens",
        "timeout",
        "max_retries",
        "max_errors_in_prompt",
    ),
    "recording": ("cassette", "record_mode", "match_on", "generator", "description"),
}


def _settings(execution: Mapping[str, Any], name: str) -> dict[str, Any]:
    generators = execution.get("generators") or {}
    if not isinstance(generators, Mapping):
        raise ValueError("configurable.execution.generators must be a mapping of name -> settings")
    settings = generators.get(name) or {}
    if not isinstance(settings, Mapping):
        raise ValueError(f"configurable.execution.generators.{name} must be a mapping")
    unknown = sorted(set(settings) - set(GENERATOR_SETTINGS[name]))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)} in configurable.execution.generators."
            f"{name}; valid: {', '.join(GENERATOR_SETTINGS[name])}"
        )
    return dict(settings)


def _build(name: str, execution: Mapping[str, Any], depth: int = 0) -> CodeGenerator:
    if name not in GENERATOR_SETTINGS:
        raise ValueError(
            f"Generator {name!r} not available (configurable.execution.code_generator); "
            f"available: {', '.join(GENERATOR_SETTINGS)}"
        )
    settings = _settings(execution, name)
    if name == "mock":
        from replaycodegen.generation.mock import MockCodeGenerator

        return MockCodeGenerator(model_config=settings)
    if name == "openai":
        from replaycodegen.generation.openai_generator import OpenAICodeGenerator

        model = settings.pop("model", None)
        return OpenAICodeGenerator(model, **settings)
    from replaycodegen.generation.recording import RecordingCodeGenerator

    inner_name = settings.pop("generator", "openai")
    if inner_name == "recording" or depth:
        raise ValueError("a recording generator cannot wrap another recording generator")
    if not settings.get("cassette"):
        raise ValueError(
            "configurable.execution.generators.recording.cassette is required: the file to "
            "record into"
        )
    inner = _build(str(inner_name), execution, depth + 1)
    return RecordingCodeGenerator(
        inner,
        settings["cassette"],
        settings.get("record_mode"),
        match_on=settings.get("match_on"),
        description=settings.get("description"),
    )


def create_code_generator(config: Mapping[str, Any] | None = None) -> CodeGenerator:
    """Build the generator that ``execution.code_generator`` names (default ``mock``)."""
    config = config or {}
    configurable = config.get("configurable", config)
    if not isinstance(configurable, Mapping):
        raise ValueError("config['configurable'] must be a mapping")
    execution = configurable.get("execution") or {}
    if not isinstance(execution, Mapping):
        raise ValueError("configurable.execution must be a mapping")
    name = execution.get("code_generator") or "mock"
    return _build(str(name), execution)
