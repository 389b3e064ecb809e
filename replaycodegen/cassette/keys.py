"""The cassette key: pure functions from (request, error chain) to a sha256 hex digest.

The key covers an explicit list of request fields (``match_on``) and the error chain with
volatile text (temp paths, hex addresses, timestamps, UUIDs) normalised away. It is
canonical JSON (sorted keys, compact, UTF-8), so it is the same across processes,
``PYTHONHASHSEED`` values, dict orders and Python versions.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from replaycodegen.models import ErrorChainItem, ExecutionError, PythonExecutionRequest

DEFAULT_MATCH_ON: tuple[str, ...] = (
    "user_query",
    "task_objective",
    "expected_results",
    "capability_prompts",
    "capability_context_data",
)
"""Request fields that form the key unless a cassette or caller says otherwise."""

VOLATILE_FIELDS: frozenset[str] = frozenset(
    {"execution_folder_name", "execution_folder_path", "session_context"}
)
"""Fields that change from run to run; they never enter the key unless asked for."""

REQUEST_FIELDS: tuple[str, ...] = tuple(PythonExecutionRequest.model_fields)

_NORMALISERS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # (substrings one of which must occur for the pattern to apply, pattern, placeholder)
    (
        ("-",),
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<UUID>",
    ),
    (
        ("-",),
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<TIMESTAMP>",
    ),
    ((":",), re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b"), "<TIME>"),
    (("0x",), re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "<ADDR>"),
    (
        ("/tmp", "/var/", "/dev/shm", "Temp"),
        re.compile(
            r"(?:/private)?(?:/tmp|/var/tmp|/var/folders|/dev/shm)(?:/[^\s'\"(),:;\]]*)?"
            r"|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp(?:\\[^\s'\"(),:;\]]*)?"
        ),
        "<TMP>",
    ),
)


@functools.lru_cache(maxsize=4096)
def normalize_error_text(text: str) -> str:
    """Replace volatile parts of an error message with stable placeholders."""
    for needles, pattern, placeholder in _NORMALISERS:
        if any(needle in text for needle in needles):
            text = pattern.sub(placeholder, text)
    return text


def chain_item_fields(item: ErrorChainItem) -> tuple[str, str, str]:
    """``(type, stage, message)`` of one chain item; a plain string has no type or stage."""
    if isinstance(item, str):
        return "", "", item
    if isinstance(item, ExecutionError):
        return item.error_type, item.stage, item.error_message
    raise TypeError(f"error chain items must be ExecutionError or str, not {type(item).__name__}")


def key_chain(error_chain: Iterable[ErrorChainItem]) -> list[list[str]]:
    """The error chain as it enters the key: ``[type, stage, normalised message]`` each."""
    out: list[list[str]] = []
    for item in error_chain:
        error_type, stage, message = chain_item_fields(item)
        out.append([error_type, stage, normalize_error_text(message)])
    return out


def validate_match_on(match_on: Iterable[str]) -> tuple[str, ...]:
    """Check field names against the request model; unknown names are a ``ValueError``."""
    fields = tuple(match_on)
    unknown = [name for name in fields if name not in REQUEST_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown request field(s) in match_on: {', '.join(unknown)}; "
            f"valid fields: {', '.join(REQUEST_FIELDS)}"
        )
    if not fields:
        raise ValueError("match_on must name at least one request field")
    return fields


def request_fields(request: PythonExecutionRequest, match_on: Sequence[str]) -> dict[str, Any]:
    """The keyed fields of a request, as plain data."""
    return {name: getattr(request, name) for name in match_on}


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return repr(value)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: one byte string per value, on every platform."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    ).encode("utf-8")


def key_payload(fields: Mapping[str, Any], chain: Sequence[Sequence[str]]) -> bytes:
    """The bytes a key hashes: canonical JSON of the keyed fields and the chain."""
    return canonical_json({"request": fields, "errors": chain})


def fingerprint_fields(fields: Mapping[str, Any], chain: Sequence[Sequence[str]]) -> str:
    """The key of already-extracted request fields and an already-normalised chain."""
    return hashlib.sha256(key_payload(fields, chain)).hexdigest()


def fingerprint(
    request: PythonExecutionRequest,
    error_chain: Sequence[ErrorChainItem] = (),
    match_on: Sequence[str] = DEFAULT_MATCH_ON,
) -> str:
    """The cassette key of a request and its error chain."""
    return fingerprint_fields(request_fields(request, match_on), key_chain(error_chain))
