"""A three-way merge of cassettes, entry by entry, for ``git merge`` (``replaycodegen
merge-driver %O %A %B``).

Entries are identified by their id together with what they match (the key of a recorded
entry, the ``when`` pattern of a hand-authored one). Against the common ancestor:

- an entry added on either side is kept; an added entry whose id the other side also
  added for something else gets the next free id;
- an entry changed (or deleted) on one side takes that change;
- the same entry changed differently on both sides (or changed on one, deleted on the
  other, or added on both with different code) is a conflict: both versions are written
  between git's conflict markers (``<<<<<<<``, ``=======``, ``>>>>>>>``), which the loader
  and ``lint`` refuse with the file and line until someone picks one.

The header and every entry keep their text as it is in the version they come from
(comments included); only a renumbered entry's ``id`` line changes. A side that is not a
cassette at all (already conflicted, damaged) is left to ``git merge-file``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from replaycodegen.cassette import yamlio
from replaycodegen.cassette.loading.loader import CassetteWarning, parse_cassette
from replaycodegen.cassette.model import Cassette, Entry
from replaycodegen.cassette.writing.serialize import dump_entry, entry_to_data
from replaycodegen.errors import CassetteError

Identity = tuple[str, str]


class NotMergeable(Exception):
    """A version that cannot be merged entry by entry (why in the message)."""


@dataclass
class Version:
    """One side of the merge: the parsed cassette and its text cut into pieces."""

    cassette: Cassette
    header: str
    """Everything before ``entries:`` and after the entries list."""
    prelude: str
    """The lines between ``entries:`` and the first entry (comments)."""
    chunks: list[str]
    indent: str

    def identities(self) -> dict[Identity, int]:
        return {identity_of(e): i for i, e in enumerate(self.cassette.entries)}


@dataclass
class MergeResult:
    text: str
    conflicts: list[str] = field(default_factory=list)
    renumbered: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def identity_of(entry: Entry) -> Identity:
    return entry.id, entry.group_id


def _data(entry: Entry, *, meta: bool = True) -> dict[str, Any]:
    data = entry_to_data(entry)
    if not meta:
        data.pop("meta", None)
    return data


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def read_version(text: str, name: str) -> Version:
    """Parse one side; an empty file is an empty cassette (git's "no ancestor")."""
    if not text.strip():
        return Version(Cassette(), "version: 1\n", "", [], "  ")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CassetteWarning)
            cassette = parse_cassette(text, name, tolerate_torn_tail=False)
        root = yaml.compose(text, Loader=yamlio.SafeLoader)
    except (CassetteError, yaml.YAMLError, RecursionError, ValueError) as exc:
        raise NotMergeable(f"{name} is not a cassette that can be merged entry by entry: "
                           f"{exc}") from None
    lines = _lines(text)
    assert isinstance(root, yaml.MappingNode)
    keys = [(k, v) for k, v in root.value]
    where = next((i for i, (k, _) in enumerate(keys) if getattr(k, "value", None) == "entries"),
                 None)
    if where is None:
        return Version(cassette, "".join(lines), "", [], "  ")
    key_node, value = keys[where]
    start = key_node.start_mark.line
    end = keys[where + 1][0].start_mark.line if where + 1 < len(keys) else len(lines)
    items = list(value.value) if isinstance(value, yaml.SequenceNode) else []
    starts = [item.start_mark.line for item in items]
    if len(set(starts)) != len(starts) or (starts and starts[0] <= start):
        raise NotMergeable(f"{name}: entries are not written one below the other")
    chunks = ["".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    prelude = "".join(lines[start + 1:starts[0]]) if starts else ""
    first = lines[starts[0]] if starts else "  - "
    indent = first[:len(first) - len(first.lstrip(" "))]
    return Version(cassette, "".join(lines[:start]) + "".join(lines[end:]), prelude, chunks,
                   indent)


def _reindent(chunk: str, source: str, target: str) -> str:
    if source == target:
        return chunk
    out = []
    for line in chunk.splitlines(keepends=True):
        if not line.strip():
            out.append(line)
        elif len(target) > len(source):
            out.append(target[len(source):] + line)
        else:
            cut = len(source) - len(target)
            out.append(line[cut:] if line[:cut].strip() == "" else line)
    return "".join(out)


_ID_LINE = r"^(\s*-\s+id:\s*)(['\"]?){old}\2(\s*(?:#.*)?)$"


def _renumber(chunk: str, entry: Entry, renames: dict[str, str], indent: str) -> str:
    """The entry's chunk with its id and its references (``derived_from``,
    ``meta.crafted_from``) renamed as ``renames`` says; the chunk as it is if none applies."""
    new_id = renames.get(entry.id, entry.id)
    crafted_from = entry.meta.get("crafted_from")
    refs = entry.derived_from in renames or (
        isinstance(crafted_from, str) and crafted_from in renames)
    if new_id == entry.id and not refs:
        return chunk
    pattern = re.compile(_ID_LINE.format(old=re.escape(entry.id)), re.MULTILINE)
    if entry.derived_from is None and not refs and len(pattern.findall(chunk)) == 1:
        return pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{new_id}{m.group(2)}{m.group(3)}",
                           chunk, count=1)
    entry.id = new_id
    if entry.derived_from in renames:
        entry.derived_from = renames[entry.derived_from]
    if isinstance(crafted_from, str) and crafted_from in renames:
        entry.meta["crafted_from"] = renames[crafted_from]
    return dump_entry(entry, indent)


def _next_id(entry_id: str, used: set[str]) -> str:
    """The first free ``<prefix>N`` after the highest in use (``e4`` after ``e1``..``e3``)."""
    prefix = re.sub(r"\d+$", "", entry_id) or "e"
    numbered = re.compile(rf"{re.escape(prefix)}(\d+)")
    n = max((int(m.group(1)) for u in used if (m := numbered.fullmatch(u))), default=0) + 1
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def _header_data(c: Cassette) -> tuple[Any, ...]:
    return c.description, tuple(c.match_on), c.repeat_last


@dataclass
class _Piece:
    text: str
    conflict: str | None = None


def merge(base_text: str, ours_text: str, theirs_text: str, *, marker_size: int = 7,
          path: str = "cassette") -> MergeResult:
    """Merge three versions of a cassette (see the module docstring)."""
    base = read_version(base_text, f"{path} (ancestor)")
    ours = read_version(ours_text, f"{path} (ours)")
    theirs = read_version(theirs_text, f"{path} (theirs)")
    if not (tuple(base.cassette.match_on) == tuple(ours.cassette.match_on)
            == tuple(theirs.cassette.match_on)) and base_text.strip():
        raise NotMergeable(f"{path}: match_on changed, so the keys of the entries differ")
    lt, eq, gt = "<" * marker_size, "=" * marker_size, ">" * marker_size

    def conflict(a: str | None, b: str | None, why: str) -> _Piece:
        return _Piece(f"{lt} ours\n{a or ''}{eq}\n{b or ''}{gt} theirs\n", why)

    b_ids, o_ids, t_ids = base.identities(), ours.identities(), theirs.identities()
    b_e, o_e, t_e = base.cassette.entries, ours.cassette.entries, theirs.cassette.entries
    def oc(i: int) -> str:
        return ours.chunks[i]

    def tc(i: int) -> str:
        return _reindent(theirs.chunks[i], theirs.indent, ours.indent)

    pieces: list[_Piece] = []
    for ident, i in o_ids.items():
        mine = o_e[i]
        if ident in b_ids:
            old = _data(b_e[b_ids[ident]])
            if ident not in t_ids:
                pieces.extend([] if _data(mine) == old else [conflict(
                    oc(i), None, f"entry {mine.id}: changed in ours, deleted in theirs")])
                continue
            other = t_e[t_ids[ident]]
            if _data(other) == old or _data(other) == _data(mine):
                pieces.append(_Piece(oc(i)))
            elif _data(mine) == old:
                pieces.append(_Piece(tc(t_ids[ident])))
            else:
                pieces.append(conflict(oc(i), tc(t_ids[ident]),
                                       f"entry {mine.id}: changed differently on both sides"))
        elif ident in t_ids and _data(t_e[t_ids[ident]], meta=False) != _data(mine, meta=False):
            pieces.append(conflict(oc(i), tc(t_ids[ident]),
                                   f"entry {mine.id}: added on both sides with different code"))
        else:
            pieces.append(_Piece(oc(i)))
    for ident, i in b_ids.items():  # deleted in ours: a conflict if theirs changed it
        if ident not in o_ids and ident in t_ids and _data(t_e[t_ids[ident]]) != _data(b_e[i]):
            pieces.append(conflict(None, tc(t_ids[ident]),
                                   f"entry {b_e[i].id}: deleted in ours, changed in theirs"))
    used = {e.id for e in o_e} | {e.id for e in t_e if identity_of(e) in b_ids}
    added = [i for ident, i in t_ids.items() if ident not in b_ids and ident not in o_ids]
    renumbered: dict[str, str] = {}
    for i in added:  # first every new id, so that references to a renamed entry follow it
        entry_id = t_e[i].id
        if entry_id in used:
            renumbered[entry_id] = _next_id(entry_id, used)
        used.add(renumbered.get(entry_id, entry_id))
    for i in added:  # then ids derived from a renamed one follow it: e3-inject-x -> e4-inject-x
        entry_id, source = t_e[i].id, t_e[i].derived_from
        if source in renumbered and entry_id not in renumbered and entry_id.startswith(
            f"{source}-"
        ):
            follows = renumbered[source] + entry_id[len(source):]
            renumbered[entry_id] = follows if follows not in used else _next_id(entry_id, used)
            used.add(renumbered[entry_id])
    for i in added:
        pieces.append(_Piece(_renumber(tc(i), t_e[i], renumbered, ours.indent)))
    header, conflicts = _merge_header(base, ours, theirs, conflict)
    conflicts += [p.conflict for p in pieces if p.conflict]
    body = "".join(p.text for p in pieces)
    entries_part = f"entries:\n{ours.prelude}{body}" if body else "entries: []\n"
    text = header + entries_part
    if not conflicts:
        text = _checked(text, path)
    return MergeResult(text, conflicts, renumbered)


def _merge_header(base: Version, ours: Version, theirs: Version,
                  conflict: Callable[[str | None, str | None, str], _Piece]
                  ) -> tuple[str, list[str]]:
    b, o, t = (_header_data(v.cassette) for v in (base, ours, theirs))
    if o == b and t != b:
        return theirs.header, []
    if t == b or o == t:
        return ours.header, []
    piece = conflict(ours.header, theirs.header, "the header (description, match_on or "
                     "repeat_last) changed differently on both sides")
    return piece.text, [piece.conflict or "header"]


def _checked(text: str, path: str) -> str:
    """The merged text, if it loads as a cassette (else a text merge has to do)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CassetteWarning)
            parse_cassette(text, path, tolerate_torn_tail=False)
    except CassetteError as exc:
        raise NotMergeable(f"{path}: the merged entries do not form a valid cassette: {exc}"
                           ) from None
    return text
