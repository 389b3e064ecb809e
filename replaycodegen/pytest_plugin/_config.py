"""``codegen_config``: the keys it may hold, checked once per test, and ``match_on``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replaycodegen.cassette.keys import validate_match_on

from ._paths import CassetteMarker, unknown_names
from ._settings import SetupError

OPENAI_KEYS = ("model", "base_url", "api_key", "temperature", "max_tokens", "timeout",
               "max_retries", "max_errors_in_prompt")
CONFIG_KEYS = (*OPENAI_KEYS, "generator", "match_on", "description", "secrets",
               "block_live_calls", "allowed_hosts")
"""What ``codegen_config`` may hold."""


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
