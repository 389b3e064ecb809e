"""The seed's eight predefined behaviours and ``plot``, shipped as hand-authored cassettes."""

from __future__ import annotations

from pathlib import Path

from replaycodegen.cassette.loading.loader import load_cassette
from replaycodegen.cassette.model import Cassette
from replaycodegen.shipped import shipped_dir

BEHAVIORS: tuple[str, ...] = (
    "success",
    "syntax_error",
    "runtime_error",
    "missing_results",
    "channel_write",
    "channel_read",
    "security_risk",
    "error_aware",
    "plot",
)


def shipped_cassettes_dir() -> Path:
    """``cassettes/`` as shipped: inside the wheel, or at the top of a source checkout."""
    return shipped_dir("cassettes")


def behavior_path(name: str) -> Path:
    """The cassette file of a behaviour; an unknown name is a ``ValueError``."""
    if name not in BEHAVIORS:
        raise ValueError(f"Unknown behavior: {name}. Available: {', '.join(BEHAVIORS)}")
    return shipped_cassettes_dir() / "behaviors" / f"{name}.yaml"


def load_behavior(name: str) -> Cassette:
    """A fresh cassette (parsed afresh or served from the parsed-cassette cache, so nothing
    is shared with another generator) for one behaviour."""
    cassette = load_cassette(behavior_path(name))
    cassette.path = f"behavior:{name}"
    return cassette


def behavior_summaries() -> dict[str, str]:
    """Each behaviour's one-line description, from its cassette."""
    out = {}
    for name in BEHAVIORS:
        description = load_behavior(name).description or ""
        out[name] = description.split(": ", 1)[-1]
    return out
