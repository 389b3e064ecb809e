"""Secret scrubbing, applied to everything a cassette write stores.

What counts as a secret: the API keys handed over explicitly, the values of environment
variables whose names contain KEY, TOKEN, SECRET or PASSWORD (at least 8 characters), and
strings shaped like well-known key formats (``sk-...``, ``Bearer ...``, GitHub, Slack,
AWS, Google, Hugging Face tokens). Each is replaced by ``<SCRUBBED>``.

A key shape is found at a word boundary (``sk-...`` after a space or a quote), and also
glued to a word (``token_sk-...``, ``keysk-proj-...``) when what follows the prefix looks
random (letters mixed with digits or cases), so that prose such as ``risk-assessment-for-
the-beamline`` is left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDER = "<SCRUBBED>"
FILE_NAME_PLACEHOLDER = "SCRUBBED"
"""What a secret becomes in a file name (no ``<>``, which file systems refuse)."""
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
MIN_SECRET_LENGTH = 8

KEY_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"Bearer\s+[A-Za-z0-9._\-~+/]{16,}=*"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"AKIA[0-9A-Z]{16}(?![0-9A-Z])"),
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
)
"""Well-known key formats, without a leading anchor: see :func:`_key_shape`."""

_ANY_KEY_SHAPE = re.compile("|".join(f"(?:{shape.pattern})" for shape in KEY_SHAPES))
_WORD = re.compile(r"\w")
_CLASSES = (re.compile(r"[0-9]"), re.compile(r"[A-Z]"), re.compile(r"[a-z]"))


def looks_random(token: str) -> bool:
    """At least two of digits, upper and lower case letters: a key, not a word."""
    return sum(1 for pattern in _CLASSES if pattern.search(token)) >= 2


_SECRET_NAME = re.compile("|".join(SECRET_NAME_PARTS), re.IGNORECASE)


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret."""
    env = os.environ if environ is None else environ
    search = _SECRET_NAME.search
    return [value for name, value in env.items()
            if len(value) >= MIN_SECRET_LENGTH and search(name)]


class Scrubber:
    """Replaces secrets in strings and nested data (dicts, lists) with ``<SCRUBBED>``."""

    def __init__(
        self,
        secrets: Iterable[str | None] = (),
        *,
        environ: Mapping[str, str] | None = None,
        use_environment: bool = True,
        placeholder: str = PLACEHOLDER,
    ) -> None:
        values = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        if use_environment:
            values.update(secret_env_values(environ))
        self.placeholder = placeholder
        ordered = sorted(values, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def text(self, value: str) -> str:
        if self._literal is not None:
            value = self._literal.sub(self.placeholder, value)
        return _ANY_KEY_SHAPE.sub(self._key_shape, value)

    def _key_shape(self, match: re.Match[str]) -> str:
        start = match.start()
        glued = start > 0 and _WORD.match(match.string, start - 1) is not None
        if glued and not looks_random(match.group()):
            return match.group()
        return self.placeholder

    def data(self, value: Any) -> Any:
        """Scrub every string inside ``value`` (mapping keys too); other values pass through."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def finds_secret(self, value: str) -> bool:
        return self.text(value) != value

    def secret_starts(self, text: str) -> list[int]:
        """Offsets in ``text`` where :meth:`text` would replace something (one pass each
        for the literal secrets and the key shapes; unordered)."""
        found: list[int] = []
        if self._literal is not None:
            found.extend(m.start() for m in self._literal.finditer(text))
        for match in _ANY_KEY_SHAPE.finditer(text):
            if self._key_shape(match) != match.group():
                found.append(match.start())
        return found


_environment_scrubbers: dict[tuple[str, ...], Scrubber] = {}


def environment_scrubber() -> Scrubber:
    """A ``Scrubber()`` for the environment as it is now, built once per set of secret
    values (the pytest plugin asks for one per collected test)."""
    values = tuple(sorted(secret_env_values()))
    scrubber = _environment_scrubbers.get(values)
    if scrubber is None:
        if len(_environment_scrubbers) > 64:
            _environment_scrubbers.clear()
        scrubber = _environment_scrubbers[values] = Scrubber(values, use_environment=False)
    return scrubber


def scrub_file_name(name: str, scrubber: Scrubber | None = None) -> str:
    """``name`` (a test id turned into a cassette file name) with every secret replaced by
    ``SCRUBBED``; call it before hashing or shortening the name."""
    active = scrubber if scrubber is not None else environment_scrubber()
    return active.text(name).replace(active.placeholder, FILE_NAME_PLACEHOLDER)
