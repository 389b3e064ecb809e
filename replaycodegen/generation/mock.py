"""``MockCodeGenerator``: the seed's test generator, every answer served from a cassette.

``set_code`` and ``set_code_sequence`` build small in-memory cassettes, ``behavior=``
loads a shipped one, ``cassette=`` loads yours: one lookup path for all of them.
Precedence: sequence > static code > behaviour/cassette.

Osprey's public state is kept: ``static_code`` (the code ``set_code`` set, or None),
``code_sequence`` (the list ``set_code_sequence`` set, or ``[]``), ``last_error_chain``
(``[]`` until the first call and after ``reset()``) and ``model_config`` (as given). A
behaviour or cassette whose only entry answers every request (``success``,
``runtime_error``, ... : one entry, ``when: {}``) shows that entry's code as
``static_code``, as Osprey's behaviours set it; any other cassette (``error_aware``, a
recording) answers by key and pattern, so ``static_code`` is None and ``code_sequence``
``[]``: read ``generator.cassette`` for its entries.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from replaycodegen.cassette.behaviors import BEHAVIORS, load_behavior
from replaycodegen.cassette.keys import validate_match_on
from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.miss import ALL_PLAYED, NO_MATCH, explain_miss
from replaycodegen.cassette.model import Cassette, Entry, Pattern
from replaycodegen.cassette.scrub import Scrubber
from replaycodegen.errors import CassetteMiss
from replaycodegen.generation.missed import MissedCall
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

_NOT_CONFIGURED = (
    "MockCodeGenerator is not configured: pass behavior=<name> (one of {names}) or "
    "cassette=<path>, or call set_code(code) / set_code_sequence([...]) first"
)


def _single_code(cassette: Cassette | None) -> str | None:
    """The code of a cassette whose one entry answers every request, else None."""
    if cassette is None or len(cassette.entries) != 1:
        return None
    when = cassette.entries[0].when
    if when is None or when.request or when.attempt is not None or when.error_contains:
        return None
    return cassette.entries[0].code


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
        secrets: Sequence[str] = (),
    ) -> None:
        config: Mapping[str, Any] = model_config if model_config is not None else {}
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
        secrets = [*secrets, *config.get("secrets", ())]
        if secrets and self._cassette is not None and behavior is None:
            # what the recording scrubbed besides key shapes and secret env values
            self._cassette.scrubber = Scrubber([str(s) for s in secrets])
        self._static: Cassette | None = None
        self._sequence: Cassette | None = None
        self._last: dict[str, Any] = {}
        self.call_count = 0
        self.misses = 0
        self.missed_calls: list[MissedCall] = []
        """Every ``CassetteMiss`` raised, with the request and error chain that missed."""
        self.last_request: PythonExecutionRequest | None = None
        self.last_error_chain: list[ErrorChainItem] = []

    # -- configuration ------------------------------------------------------------------
    @property
    def cassette(self) -> Cassette | None:
        """The cassette that answers the next call (sequence > static code > behaviour)."""
        return self._sequence or self._static or self._cassette

    @property
    def static_code(self) -> str | None:
        """The code returned on every call: what ``set_code`` set, or a behaviour's one code.

        None when a sequence is set, or when the behaviour or cassette has several entries
        or conditions. Assigning a string is ``set_code``; assigning None clears it.
        """
        if self._sequence is not None:
            return None
        if self._static is not None:
            return self._static.entries[0].code
        return _single_code(self._cassette)

    @static_code.setter
    def static_code(self, code: str | None) -> None:
        if code is None:
            self._static = None
        else:
            self.set_code(code)

    @property
    def code_sequence(self) -> list[str]:
        """The codes ``set_code_sequence`` set, in order (a copy), or ``[]``.

        Assigning a non-empty list is ``set_code_sequence``; assigning ``[]`` clears it.
        """
        if self._sequence is None:
            return []
        return [entry.code for entry in self._sequence.entries]

    @code_sequence.setter
    def code_sequence(self, codes: Sequence[str]) -> None:
        if not codes:
            self._sequence = None
        else:
            self.set_code_sequence(codes)

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
        self.missed_calls = []
        self.last_request = None
        self.last_error_chain = []
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
        key = cassette.resolve_key(request, error_chain)  # plain, or of the scrubbed request
        selection = cassette.select(request, error_chain, key=key)
        if selection is None:
            self.misses += 1
            reason = ALL_PLAYED if cassette.exhausted(key) else NO_MATCH
            raise self.note_miss(request, error_chain,
                                 explain_miss(cassette, request, error_chain, reason=reason,
                                              key=key))
        entry = selection.entry
        self._last = {
            "cassette": cassette.path,
            "entry_id": entry.id,
            "key": key,
            "entry_key": entry.key,
            "repeated": selection.repeated,
        }
        return entry.code

    def note_miss(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem],
                  error: CassetteMiss) -> CassetteMiss:
        """Remember a miss in ``missed_calls``; returns ``error`` to raise."""
        self.missed_calls.append(MissedCall(request, tuple(error_chain), error))
        return error

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
