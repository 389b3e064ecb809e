"""Which shard of a CI matrix a test run is.

Sources, first match wins: ``--codegen-shard=I/N``; pytest-split's ``--group``/``--splits``
when that plugin is active; GitLab's ``CI_NODE_INDEX``/``CI_NODE_TOTAL`` (1-based);
Buildkite's ``BUILDKITE_PARALLEL_JOB`` (0-based)/``BUILDKITE_PARALLEL_JOB_COUNT``. Without
any of them a run is the whole suite: shard 1 of 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class ShardError(ValueError):
    """A shard given or found in the environment that makes no sense (says where)."""


@dataclass(frozen=True, order=True)
class Shard:
    """Shard ``index`` (1-based) of ``total``; ``source`` says where it came from."""

    index: int
    total: int
    source: str = field(default="none", compare=False)

    def __post_init__(self) -> None:
        if self.total < 1 or not 1 <= self.index <= self.total:
            raise ShardError(f"shard {self.index}/{self.total} does not exist: the index runs "
                             f"from 1 to the total ({self.source})")

    @property
    def label(self) -> str:
        """``1/3``: how people write it."""
        return f"{self.index}/{self.total}"

    @property
    def file_label(self) -> str:
        """``1of3``: what ``{shard}`` in an output path becomes (safe in file names)."""
        return f"{self.index}of{self.total}"

    @property
    def sharded(self) -> bool:
        return self.total > 1

    def to_data(self) -> dict[str, object]:
        return {"index": self.index, "total": self.total, "source": self.source}


WHOLE_SUITE = Shard(1, 1)


def parse_shard(text: str, source: str = "--codegen-shard") -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; anything else is a ``ShardError`` naming ``source``."""
    match = _SHARD.match(text)
    if match is None:
        raise ShardError(f"{source}={text!r} is not of the form I/N (for example 2/3)")
    return Shard(int(match.group(1)), int(match.group(2)), source)


def _env_int(environ: Mapping[str, str], name: str) -> int:
    value = environ[name].strip()
    if not value.isdigit():
        raise ShardError(f"{name}={environ[name]!r} is not a whole number")
    return int(value)


def shard_from_environment(environ: Mapping[str, str]) -> Shard | None:
    """GitLab's ``CI_NODE_*`` (1-based), else Buildkite's ``BUILDKITE_PARALLEL_*`` (0-based)."""
    if environ.get("CI_NODE_INDEX") and environ.get("CI_NODE_TOTAL"):
        return Shard(_env_int(environ, "CI_NODE_INDEX"), _env_int(environ, "CI_NODE_TOTAL"),
                     "CI_NODE_INDEX/CI_NODE_TOTAL")
    if environ.get("BUILDKITE_PARALLEL_JOB") and environ.get("BUILDKITE_PARALLEL_JOB_COUNT"):
        return Shard(_env_int(environ, "BUILDKITE_PARALLEL_JOB") + 1,
                     _env_int(environ, "BUILDKITE_PARALLEL_JOB_COUNT"),
                     "BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT")
    return None


def detect_shard(option: str | None, *, split_group: int | None = None,
                 split_splits: int | None = None, environ: Mapping[str, str]) -> Shard:
    """The shard of this run (see the module docstring); :data:`WHOLE_SUITE` when none."""
    if option:
        return parse_shard(option)
    if split_group and split_splits:
        return Shard(int(split_group), int(split_splits), "pytest-split --group/--splits")
    return shard_from_environment(environ) or WHOLE_SUITE
