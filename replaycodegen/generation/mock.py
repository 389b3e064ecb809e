"""``MockCodeGenerator``: the seed's test generator, every answer served from a cassette.

``set_code`` and ``set_code_sequence`` build small in-memory cassettes, ``behavior=``
loads a shipped one, ``cassette=`` loads yours: one lookup path for all of them.
Precedence: sequence > static code > behaviour/cassette.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from replaycodegen.cassette.behaviors import BEHAVIORS, load_behavior
from replaycodegen.cassette.keys import validate_match_on
from replaycodegen.cassette.loader import load_cassette
from replaycodegen.cassette.miss import ALL_PLAYED, NO_MATCH, explain_miss
from replaycodegen.cassette.model import Cassette, Entry, Pattern
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

_NOT_CONFIGURED = (
    "MockCodeGenerator is not configured: pass behavior=<name> (one of {names}) or "
    "cassette=<path>, or call set_code(code) / set_code_sequence([...]) first"
)


def _code_cassette(source: str, codes: Sequence[str]) -> Cassette:
    entries = [
        Entry(id=f"{source}-{i + 1}", code=code, when=Pattern()) for i, code in enumerate(codes)
    ]
    return Cassette(entries, path=f"<{source}>")


class MockCodeGenerator:
    """A deterministic ``CodeGenerator`` for tests: no network, no key, microseconds a call.

    >>> generator = MockCodeGenerator(behavior="success")
    """

    def __init__(
        self,
        model_config: Mapping[str, Any] | None = None,
        behavior: str | None = None,
        *,
        cassette: str | os.PathLike[str] | Cassette | None = None,
        match_on: Sequence[str] | None = None,
    ) -> None:
        config = dict(model_config or {})
        behavior = behavior if behavior is not None else config.get("behavior")
        cassette = cassette if cassette is not None else config.get("cassette")
        match_on = match_on if match_on is not None else config.get("match_on")
        if behavior is not None and cassette is not None:
            raise ValueError("pass either behavior= or cassette=, not both")
        self.model_config = config
        self.behavior: str | None = behavior
        self._cassette: Cassette | None = None
        if behavior is not None:
            if behavior not in BEHAVIORS:
                close = difflib.get_close_matches(str(behavior), list(BEHAVIORS), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"Unknown behavior: {behavior}. Available: {', '.join(BEHAVIORS)}.{hint}"
                )
            self._cassette = load_behavior(behavior)
        elif isinstance(cassette, Cassette):
            self._cassette = cassette
        elif cassette is not None:
            fields = validate_match_on(match_on) if match_on is not None else None
            self._cassette = load_cassette(cassette, match_on=fields)
        self._static: Cassette | None = None
        self._sequence: Cassette | None = None
        self._last: dict[str, Any] = {}
        self.call_count = 0
        self.misses = 0
        self.last_request: PythonExecutionRequest | None = None
        self.last_error_chain: list[ErrorChainItem] | None = None

    # -- configuration ------------------------------------------------------------------
    @property
    def cassette(self) -> Cassette | None:
        """The cassette that answers the next call (sequence > static code > behaviour)."""
        return self._sequence or self._static or self._cassette

    def set_code(self, code: str) -> None:
        """Return this code on every call (clears any sequence)."""
        if not isinstance(code, str):
            raise TypeError(f"set_code() takes a string of Python code, not {type(code).__name__}")
        self._static = _code_cassette("set_code", [code])
        self._sequence = None

    def set_code_sequence(self, codes: Sequence[str]) -> None:
        """Return ``codes[min(call_count - 1, len - 1)]``: the last one repeats once exhausted."""
        codes = list(codes)
        if not codes:
            raise ValueError("set_code_sequence() needs at least one code string")
        if not all(isinstance(c, str) for c in codes):
            raise TypeError("set_code_sequence() takes a list of strings of Python code")
        sequence = _code_cassette("set_code_sequence", codes)
        sequence.set_position(Pattern().group_id(), self.call_count)
        self._sequence = sequence
        self._static = None

    def reset(self) -> None:
        """Zero the call tracking; the configured code stays."""
        self.call_count = 0
        self.misses = 0
        self.last_request = None
        self.last_error_chain = None
        self._last = {}
        for cassette in (self._sequence, self._static, self._cassette):
            if cassette is not None:
                cassette.rewind()

    # -- the protocol -------------------------------------------------------------------
    async def generate_code(
        self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]
    ) -> str:
        self.call_count += 1
        self.last_request = request
        self.last_error_chain = list(error_chain)
        return self.serve(request, self.last_error_chain)

    def serve(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]) -> str:
        """The synchronous core of ``generate_code`` (no call tracking)."""
        cassette = self.cassette
        if cassette is None:
            raise ValueError(_NOT_CONFIGURED.format(names=", ".join(BEHAVIORS)))
        key = cassette.key_for(request, error_chain)
        selection = cassette.select(request, error_chain, key=key)
        if selection is None:
            self.misses += 1
            reason = ALL_PLAYED if cassette.exhausted(key) else NO_MATCH
            raise explain_miss(cassette, request, error_chain, reason=reason, key=key)
        entry = selection.entry
        self._last = {
            "cassette": cassette.path,
            "entry_id": entry.id,
            "key": key,
            "entry_key": entry.key,
            "repeated": selection.repeated,
        }
        return entry.code

    def get_generation_metadata(self) -> dict[str, Any]:
        """Which cassette and entry served the last call."""
        source = "behavior" if self.behavior and self.cassette is self._cassette else "cassette"
        if self.cassette is self._sequence and self._sequence is not None:
            source = "set_code_sequence"
        elif self.cassette is self._static and self._static is not None:
            source = "set_code"
        return {
            "generator": "mock",
            "model": "mock",
            "behavior": self.behavior,
            "source": source,
            "call_count": self.call_count,
            **self._last,
        }

    def __repr__(self) -> str:
        return f"MockCodeGenerator(behavior={self.behavior!r}, cassette={self.cassette!r})"
