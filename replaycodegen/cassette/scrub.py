"""Secret scrubbing, applied to everything a cassette write stores.

What counts as a secret: the API keys handed over explicitly, the values of environment
variables whose names contain KEY, TOKEN, SECRET or PASSWORD (at least 8 characters), and
strings shaped like well-known key formats (``sk-...``, ``Bearer ...``, GitHub, Slack,
AWS, Google, Hugging Face tokens). Each is replaced by ``<SCRUBBED>``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDER = "<SCRUBBED>"
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
MIN_SECRET_LENGTH = 8

KEY_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\bBearer\s+[A-Za-z0-9._\-~+/]{16,}=*"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}"),
)


_ANY_KEY_SHAPE = re.compile("|".join(f"(?:{shape.pattern})" for shape in KEY_SHAPES))


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names say they hold a secret."""
    env = os.environ if environ is None else environ
    return [
        value
        for name, value in env.items()
        if any(part in name.upper() for part in SECRET_NAME_PARTS)
        and len(value) >= MIN_SECRET_LENGTH
    ]


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
        return _ANY_KEY_SHAPE.sub(self.placeholder, value)

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
