"""The run's identity for CI at scale: its shard, start time and id, and where the report
and the miss ledger go (``--codegen-shard``, ``--codegen-ledger``; the report path is
``--codegen-report``). Kept in ``config.stash``; xdist workers get it from the controller.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from replaycodegen.lifecycle.ci.shards import WHOLE_SUITE, Shard, ShardError, detect_shard

WORKERINPUT_KEY = "replaycodegen_lifecycle"

_HELP = {
    "shard": "this run is shard I of N of the suite (for example 2/3), recorded in the report "
    "so that `replaycodegen combine` can check that every shard reported (default: "
    "pytest-split's --group/--splits, else CI_NODE_INDEX/CI_NODE_TOTAL, else "
    "BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT, else the whole suite)",
    "ledger": "append every cassette miss of the run to this file, one JSON line each "
    "(`replaycodegen record --from-ledger PATH` records them); {shard} and a folder/ make "
    "unique names",
}


def add_lifecycle_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("replaycodegen")
    group.addoption("--codegen-shard", metavar="I/N", help=_HELP["shard"])
    group.addoption("--codegen-ledger", metavar="PATH", help=_HELP["ledger"])
    parser.addini("codegen_ledger", _HELP["ledger"], default=None)


@dataclass
class RunIdentity:
    """Who this run is; the same object on the controller and (copied) on every worker."""

    shard: Shard
    run_id: str
    started_at: str
    ledger_path: Path | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"shard": self.shard.to_data(), "run_id": self.run_id,
                "started_at": self.started_at,
                "ledger": str(self.ledger_path) if self.ledger_path else None}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RunIdentity:
        raw = data["shard"]
        ledger = data.get("ledger")
        return cls(Shard(raw["index"], raw["total"], raw["source"]), data["run_id"],
                   data["started_at"], Path(ledger) if ledger else None)


IDENTITY_KEY = pytest.StashKey[RunIdentity]()


def raw_output(config: pytest.Config, name: str) -> tuple[str, Path] | None:
    """The option's text and the folder it is relative to (pytest's invocation folder for
    the command line, the ini file's folder for the ini key)."""
    cli = config.getoption(f"codegen_{name}", None)
    if cli not in (None, ""):
        return str(cli), config.invocation_params.dir
    ini = config.getini(f"codegen_{name}") if name != "shard" else None
    if ini in (None, "") or not str(ini).strip():
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return str(ini).strip(), base


def _split_option(config: pytest.Config, name: str) -> int | None:
    value = getattr(config.option, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resolve_identity(config: pytest.Config) -> RunIdentity:
    """On the controller (or a run without xdist): the shard and the ledger file."""
    from replaycodegen.lifecycle.ci.outputs import output_path, utc_now

    split_active = config.pluginmanager.has_plugin("pytestsplitplugin")
    option = config.getoption("codegen_shard", None)
    raw = raw_output(config, "ledger")
    try:
        shard = detect_shard(
            option,
            split_group=_split_option(config, "group") if split_active else None,
            split_splits=_split_option(config, "splits") if split_active else None,
            environ=os.environ)
    except ShardError as exc:
        if not (option or raw or raw_output(config, "report")):
            shard = WHOLE_SUITE  # nothing records the shard: a stray CI variable is harmless
        else:
            raise pytest.UsageError(f"replaycodegen: {exc}; fix: pass --codegen-shard=I/N "
                                    "with 1 <= I <= N, or unset the variable") from None
    identity = RunIdentity(shard, uuid.uuid4().hex, utc_now())
    if raw is not None:
        identity.ledger_path = output_path(raw[0], shard, stem="codegen-ledger",
                                           suffix=".jsonl", base=raw[1])
    return identity


def identity(config: pytest.Config) -> RunIdentity:
    """This process's identity (a worker's comes from the controller)."""
    found = config.stash.get(IDENTITY_KEY, None)
    if found is None:
        shared = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
        found = RunIdentity.from_wire(shared) if shared else RunIdentity(
            WHOLE_SUITE, uuid.uuid4().hex, "")
        config.stash[IDENTITY_KEY] = found
    return found
