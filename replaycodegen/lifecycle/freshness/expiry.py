"""``--max-age``: how old a recording may be before ``status`` calls it expired.

Durations are a number and a unit: ``90d``, ``12w``, ``36h``, ``45m``, ``30s`` (or a
combination such as ``1w3d``). A bare number means days.
"""

from __future__ import annotations

import datetime as _dt
import re

from replaycodegen.cassette.model import parse_timestamp
from replaycodegen.plural import plural

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_max_age(text: str) -> _dt.timedelta:
    """``"90d"`` -> 90 days; a ``ValueError`` saying the accepted forms otherwise."""
    value = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        value += "d"
    parts = _PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(
            f"invalid max age {text!r}: use a number and a unit, e.g. 90d, 12w, 36h, 45m or 1w3d"
        )
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"invalid max age {text!r}: it must be more than zero")
    return _dt.timedelta(seconds=seconds)


def describe_age(age: _dt.timedelta) -> str:
    """``"120 days"``, ``"5 hours"``: the largest whole unit."""
    seconds = int(age.total_seconds())
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return plural(seconds // size, name)
    return plural(seconds, "second")


def age_of(recorded_at: object, now: _dt.datetime | None = None) -> _dt.timedelta | None:
    """How long ago ``recorded_at`` (a ``meta.recorded_at`` value) was; ``None`` if unknown."""
    moment = parse_timestamp(recorded_at)
    if moment is None:
        return None
    return (now or _dt.datetime.now(_dt.UTC)) - moment
