"""Hand-authoring cassettes: scaffold one, replace an entry's code, turn a recorded success
into a failure case. Pure functions over ``Cassette``/``Entry``; the caller writes the
result with ``CassetteStore``.

A crafted failure replaces the recorded entry E (request R, error chain C, attempt
n = len(C) + 1) with two hand-authored entries scoped to R: ``E-inject-<kind>`` answers
attempt n with failing code, and ``E`` answers attempt n + 1 with the recorded code. A
test then sees the failure first and the recorded fix on the retry.

Markers in ``meta`` (read by ``replaycodegen lint``): ``expect: syntax_error`` says the
code is meant not to parse; ``inject: <kind>`` and ``crafted_from: <id>`` mark crafted
entries.
"""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from replaycodegen.cassette.behaviors import BEHAVIORS, load_behavior
from replaycodegen.cassette.model import Cassette, Entry, Pattern, request_identity
from replaycodegen.errors import CassetteError
from replaycodegen.maintenance.entries import find_entry
from replaycodegen.models import PythonExecutionRequest

EXPECT_SYNTAX_ERROR = "syntax_error"
DEFAULT_RETRIES: int = PythonExecutionRequest.model_fields["retries"].default
_HEADER = "# crafted by `replaycodegen craft --inject {kind}`: {what}\n"

INJECTED_CODE: Mapping[str, str] = {
    "syntax_error": _HEADER.format(kind="syntax_error", what="does not parse")
    + 'def summarize(values:\n    results = {"value": sum(values)}\n',
    "runtime_error": _HEADER.format(kind="runtime_error", what="raises ZeroDivisionError")
    + "values: list[float] = []\n"
    + 'results = {"mean": sum(values) / len(values)}\n',
    "missing_results": _HEADER.format(kind="missing_results", what="never sets `results`")
    + "value = 42\n"
    + 'print(f"computed {value} but forgot to store it in results")\n',
    "timeout": _HEADER.format(kind="timeout", what="never finishes; the service times out")
    + "while True:\n    pass\n",
    "security_risk": _HEADER.format(kind="security_risk", what="shells out; never executed")
    + "import subprocess\n\n"
    + 'subprocess.run(["echo", "crafted security risk"], check=False)\n'
    + 'results = {"value": 42}\n',
    "channel_write": _HEADER.format(
        kind="channel_write", what="writes a channel (needs approval), then fails"
    )
    + "from replaycodegen.runtime import read_channel, write_channel\n\n"
    + 'previous = read_channel("MAGNET:QF1:SETPOINT")\n'
    + 'write_channel("MAGNET:QF1:SETPOINT", previous + 1.5)\n'
    + "raise RuntimeError(\n"
    + '    "crafted failure after a control-system write: setpoint readback check failed"\n'
    + ")\n",
}
"""The failing code each ``--inject`` kind puts in front of the recorded code."""

INJECTION_KINDS: tuple[str, ...] = tuple(INJECTED_CODE)


# -- syntax markers -----------------------------------------------------------------------


def syntax_problem(code: str) -> str | None:
    """``None`` when ``code`` parses, else ``"line N: message"``."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}" if exc.lineno else exc.msg
    except ValueError as exc:  # null bytes
        return str(exc)
    return None


def expects_syntax_error(entry: Entry) -> bool:
    """True when the entry says its code is meant not to parse (``meta.expect`` or a
    crafted ``syntax_error``)."""
    return EXPECT_SYNTAX_ERROR in (entry.meta.get("expect"), entry.meta.get("inject"))


# -- crafting failures --------------------------------------------------------------------


@dataclass(frozen=True)
class CraftedFailure:
    """The two entries that replaced a recorded one, and anything that may spoil the plan."""

    injected: Entry
    replay: Entry
    attempt: int
    warnings: list[str] = field(default_factory=list)


def inject_failure(cassette: Cassette, entry_id: str, kind: str) -> CraftedFailure:
    """Replace recorded entry ``entry_id`` by an injected failure at its attempt and the
    recorded code at the next attempt (in place). Errors are ``CassetteError``."""
    if kind not in INJECTED_CODE:
        raise CassetteError(
            f"unknown failure kind {kind!r}", path=cassette.path,
            hint=f"use one of: {', '.join(INJECTION_KINDS)}",
        )
    index, entry = find_entry(cassette, entry_id)
    if entry.request is None:
        raise CassetteError(
            f"entry {entry_id!r} is hand-authored; craft turns a recorded entry into a "
            "failure case",
            path=cassette.path,
            hint=f"pick a recorded entry, or edit this one: `replaycodegen edit "
            f"{cassette.path} {entry_id}`",
        )
    injected_id = f"{entry.id}-inject-{kind}"
    if cassette.has_id(injected_id):
        raise CassetteError(
            f"entry {injected_id!r} exists already", path=cassette.path,
            hint="the entry was crafted with this kind before; remove that entry first",
        )
    attempt = len(entry.error_chain) + 1
    scope = {name: entry.request[name] for name in cassette.match_on if name in entry.request}
    injected = Entry(
        id=injected_id,
        code=INJECTED_CODE[kind],
        when=Pattern(request=scope, attempt=attempt),
        description=f"Crafted failure ({kind}) in front of recorded entry {entry.id!r}.",
        meta={"crafted_from": entry.id, "inject": kind},
        origin="crafted",
        derived_from=entry.id,
    )
    replay = Entry(
        id=entry.id,
        code=entry.code,
        when=Pattern(request=scope, attempt=attempt + 1),
        response=entry.response,
        description=entry.description,
        meta=dict(entry.meta),
        origin="crafted",
        derived_from=entry.id,
    )
    warnings = _shadowing(cassette, index, scope, attempt) + _superseded(cassette, entry)
    if attempt + 1 > DEFAULT_RETRIES:
        warnings.append(
            f"the recorded code now plays at attempt {attempt + 1}: the request needs "
            f"retries >= {attempt + 1} (the default is {DEFAULT_RETRIES})"
        )
    entries = [*cassette.entries[:index], injected, replay, *cassette.entries[index + 1 :]]
    cassette.replace_entries(entries)
    return CraftedFailure(injected, replay, attempt, warnings)


def _superseded(cassette: Cassette, entry: Entry) -> list[str]:
    """A recorded retry of ``entry`` means its code failed: crafting it gives fail, fail."""
    out = []
    for other in cassette.entries:
        if (
            other is not entry and other.request is not None
            and request_identity(other) == request_identity(entry)
            and len(other.error_chain) == len(entry.error_chain) + 1
            and other.error_chain[: len(entry.error_chain)] == entry.error_chain
        ):
            out.append(
                f"entry {other.id!r} records a retry after {entry.id!r} failed, so the "
                f"recorded code of {entry.id!r} fails too; craft {other.id!r} (the attempt "
                "that succeeded) to get fail-then-fix"
            )
    return out


def _shadowing(cassette: Cassette, index: int, scope: Mapping[str, object],
               attempt: int) -> list[str]:
    """Earlier pattern entries that could answer the crafted attempts first."""
    out = []
    for earlier in cassette.entries[:index]:
        when = earlier.when
        if when is None or when.attempt not in (None, attempt, attempt + 1):
            continue
        if when.request is not None and any(
            name in scope and scope[name] != value for name, value in when.request.items()
        ):
            continue
        out.append(
            f"pattern entry {earlier.id!r} ({when.describe()}) comes earlier in the file and "
            "may answer these attempts first; move it below the crafted entries"
        )
    return out


# -- scaffolding and editing --------------------------------------------------------------


def _today() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")


def scaffold_from_behavior(name: str, *, path: str | None = None,
                           description: str | None = None) -> Cassette:
    """A new hand-authored cassette holding a copy of a shipped behaviour's entries."""
    if name not in BEHAVIORS:
        raise CassetteError(
            f"unknown behaviour {name!r}", hint=f"use one of: {', '.join(BEHAVIORS)}"
        )
    source = load_behavior(name)
    entries = []
    for entry in source.entries:
        copy = Entry(id=entry.id, code=entry.code, when=entry.when, request=entry.request,
                     error_chain=list(entry.error_chain), description=entry.description,
                     meta=dict(entry.meta))
        if syntax_problem(copy.code) is not None:
            copy.meta.setdefault("expect", EXPECT_SYNTAX_ERROR)
        entries.append(copy)
    text = description or (
        f"Hand-authored ({_today()}), scaffolded from behaviour {name!r} with "
        f"`replaycodegen new --from-behavior {name}`. Origin: {source.description or ''}"
    ).strip()
    return Cassette(entries, path=path, match_on=source.match_on, description=text)


def scaffold_from_code(code: str, *, path: str | None = None, description: str | None = None,
                       allow_invalid: bool = False, source: str = "a file") -> Cassette:
    """A new hand-authored cassette with one entry answering every request with ``code``."""
    entry = Entry(id="e1", code=code, when=Pattern(),
                  description="Answers every request; narrow it with when.request / "
                  "when.attempt / when.error_contains.")
    check_code(entry, code, allow_invalid=allow_invalid, path=path)
    text = description or (
        f"Hand-authored ({_today()}) with `replaycodegen new --code` from {source}."
    )
    return Cassette([entry], path=path, description=text)


def check_code(entry: Entry, code: str, *, allow_invalid: bool, path: str | None) -> None:
    """Refuse code that does not parse unless the entry expects it or ``allow_invalid``
    (which marks the entry ``meta.expect: syntax_error``)."""
    problem = syntax_problem(code)
    if problem is None or expects_syntax_error(entry):
        return
    if not allow_invalid:
        raise InvalidCode(
            f"the code of entry {entry.id!r} does not parse ({problem}); nothing was written",
            path=path,
            hint="correct it, or pass --allow-invalid to keep a deliberate syntax error "
            "(marked meta.expect: syntax_error)",
        )
    entry.meta["expect"] = EXPECT_SYNTAX_ERROR


class InvalidCode(CassetteError):
    """New code for an entry does not parse and the entry does not expect that."""


def replace_code(cassette: Cassette, entry_id: str, code: str, *,
                 allow_invalid: bool = False) -> Entry:
    """Give entry ``entry_id`` new code (in place), checked by :func:`check_code`."""
    _, entry = find_entry(cassette, entry_id)
    check_code(entry, code, allow_invalid=allow_invalid, path=cassette.path)
    entry.code = code
    entry.response = None  # the raw model reply no longer matches the code
    entry.meta["edited_at"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return entry
