"""Counts with a noun that agrees: ``plural(1, "entry")`` is ``"1 entry"``, ``plural(2,
"entry")`` is ``"2 entries"``. Stdlib only: the CLI and the pytest plugin print counts with
it (never ``"1 entries"`` or ``"entry(s)"``)."""

from __future__ import annotations

_VOWELS = frozenset("aeiou")
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")


def plural_form(singular: str) -> str:
    """The regular English plural of ``singular``, applied to its last word:
    ``entry`` -> ``entries``, ``miss`` -> ``misses``, ``key`` -> ``keys``,
    ``failed attempt`` -> ``failed attempts``."""
    if singular.endswith("y") and len(singular) > 1 and singular[-2] not in _VOWELS:
        return singular[:-1] + "ies"
    if singular.endswith(_SIBILANT_ENDINGS):
        return singular + "es"
    return singular + "s"


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun that agrees with it (``plural`` for irregular nouns:
    ``plural(n, "line of code", "lines of code")``)."""
    word = singular if count == 1 else (plural or plural_form(singular))
    return f"{count} {word}"
