"""The entry-by-entry fast path (issue 12.4) serves what the whole-document parse serves,
falls back to it whenever the split is not certain, and keeps memory near the file's size;
YAML with anchors and aliases of any shape gives a cassette or a CassetteError, bounded."""

from __future__ import annotations

import contextlib
import dataclasses
import textwrap
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaycodegen import CassetteError, PythonExecutionRequest, load_cassette
from replaycodegen.cassette.loading import entry_split
from replaycodegen.cassette.loading.loader import Parsed, parse_raw
from replaycodegen.cassette.model import Cassette, entry_from_pair
from replaycodegen.cassette.writing.serialize import dump_entry, header_to_data
from replaycodegen.cassette.yamlio import dump
from tests.core.cassette_strategies import cassette_files, snapshot

REQUEST = PythonExecutionRequest(user_query="q", task_objective="o", execution_folder_name="f")


def _outcome(raw: bytes, *, whole: bool) -> tuple[str, Any]:
    try:
        parsed: Parsed = parse_raw(raw, "c.yaml", whole=whole)
    except CassetteError as error:
        return "error", (error.line, error.reason)
    return "cassette", (snapshot(parsed.cassette), parsed.notes)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cassette_files(max_entries=8))
def test_the_fast_path_serves_what_the_whole_document_parse_serves(raw: bytes) -> None:
    assert _outcome(raw, whole=False) == _outcome(raw, whole=True)


@pytest.mark.parametrize(
    "tail",
    [
        "description: a top-level key after the entries\n",
        "entries:\n  - id: e9\n    when: {}\n    code: x\n",  # a second list
        "---\nversion: 1\n",
        "\tcode: tab-indented\n",
        " - id: e9\n   when: {}\n   code: x\n",  # another indentation
        "...\n",
    ],
)
def test_an_uncertain_layout_is_parsed_whole(tail: str) -> None:
    text = ("version: 1\nentries:\n  - id: e1\n    when: {}\n    code: |\n      x = 1\n"
            + tail)
    raw = text.encode()
    assert entry_split.split(raw) is None
    assert _outcome(raw, whole=False) == _outcome(raw, whole=True)


@pytest.mark.parametrize(
    "text",
    [
        # an anchor in one entry, its alias in another: the piece fails, the whole parses
        "version: 1\nentries:\n  - id: e1\n    request: {user_query: q, expected_results: &r"
        " {a: int}}\n    code: x\n  - id: e2\n    request: {user_query: r, expected_results:"
        " *r}\n    code: y\n",
        # a quoted string running across an item boundary
        "version: 1\nentries:\n  - id: e1\n    when: {}\n    code: 'x = 1\n  - y'\n"
        "  - id: e2\n    when: {}\n    code: z\n",
        # a flow mapping running across an item boundary
        "version: 1\nentries:\n  - id: e1\n    when: {attempt: 1,\n  - 1: 2}\n    code: x\n",
        # an anchor in the header used by an entry
        "version: 1\ndescription: &d shared\nentries:\n  - id: e1\n    when: {}\n"
        "    code: x\n    description: *d\n",
    ],
)
def test_constructs_cut_by_the_split_fall_back_to_the_whole_document(text: str) -> None:
    raw = text.encode()
    assert entry_split.split(raw) is not None
    assert _outcome(raw, whole=False) == _outcome(raw, whole=True)


def test_the_split_finds_every_entry() -> None:
    text = textwrap.dedent("""\
        version: 1
        description: |
          entries:
        entries:
        # recorded on monday
          - id: e1
            when: {}
            code: |
              x = 1

          # a comment at the item's indentation
          - id: e2
            when: {}
            code: |
              - not an item: inside the code
        """)
    found = entry_split.split(text.encode())
    assert found is not None
    assert found.lines == [6, 12]
    assert [e.id for e in parse_raw(text.encode(), "c.yaml").cassette.entries] == ["e1", "e2"]


def _big_cassette(count: int) -> bytes:
    parts = [dump(header_to_data(Cassette())), "entries:\n"]
    for i in range(count):
        entry = entry_from_pair(
            entry_id=f"e{i + 1}", request=REQUEST.model_copy(update={"user_query": f"q{i}"}),
            error_chain=[], match_on=Cassette().match_on,
            code="".join(f"value_{j} = compute({i}, {j})\n" for j in range(12)),
            meta={"recorded_at": "2026-01-01T00:00:00Z", "model": "gpt-4o-mini",
                  "usage": {"prompt_tokens": 300, "completion_tokens": 80}})
        Cassette().add(entry)
        parts.append(dump_entry(entry))
    return "".join(parts).encode()


def _traced_peak(run: Any) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_peaks_near_the_file_size(tmp_path: Path) -> None:
    """Today's figure: 14x the file (the whole document composed before anything is built).
    The fast path holds the bytes, the entries built and one batch of nodes."""
    path = tmp_path / "big.yaml"
    path.write_bytes(_big_cassette(4000))
    size = path.stat().st_size
    fast = _traced_peak(lambda: load_cassette(path, cache=False))
    whole = _traced_peak(lambda: parse_raw(path.read_bytes(), str(path), whole=True))
    assert fast <= 4 * size, f"{fast / size:.1f}x the file"
    assert whole > 2 * fast  # what the fast path saves


def test_a_cache_hit_peaks_near_the_file_size_too(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(_big_cassette(4000))
    size = path.stat().st_size
    folder = tmp_path / "cache"
    load_cassette(path, cache=folder)
    hit = _traced_peak(lambda: load_cassette(path, cache=folder))
    assert hit <= 4 * size, f"{hit / size:.1f}x the file"


# -- anchors and aliases of random shape: a cassette or a CassetteError, bounded -------------


@st.composite
def aliased_yaml(draw: st.DrawFn) -> str:
    """A cassette whose meta holds anchored blocks of random size, aliased at random
    depths and counts (sometimes enough for a bomb, sometimes a cycle)."""
    anchors: list[str] = []
    lines = []
    for i in range(draw(st.integers(1, 8))):
        width = draw(st.integers(1, 12))
        if anchors and draw(st.booleans()):
            items = [f"*{draw(st.sampled_from(anchors))}" for _ in range(width)]
        else:
            items = [repr("x" * draw(st.integers(0, 50))) for _ in range(width)]
        if anchors and draw(st.integers(0, 9)) == 0:
            items.append(f"*a{i}")  # a self-reference: a cycle
        body = "[" + ", ".join(items) + "]"
        if draw(st.booleans()):
            body = "{" + ", ".join(f"k{j}: {item}" for j, item in enumerate(items)) + "}"
        lines.append(f"      a{i}: &a{i} {body}")
        anchors.append(f"a{i}")
    for j in range(draw(st.integers(0, 5))):
        lines.append(f"      use{j}: *{draw(st.sampled_from(anchors))}")
    where = draw(st.sampled_from(["meta", "request"]))
    block = "\n".join(lines) + "\n"
    if where == "request":
        return ("version: 1\nentries:\n  - id: e1\n    request:\n      user_query: q\n"
                "      expected_results:\n" + textwrap.indent(block, "  ") + "    code: x\n")
    return "version: 1\nentries:\n  - id: e1\n    when: {}\n    code: x\n    meta:\n" + block


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aliased_yaml())
def test_aliases_of_any_shape_give_a_cassette_or_an_error_in_bounded_memory(text: str) -> None:
    raw = text.encode()
    outcome: list[Any] = []

    def run() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(CassetteError):
                outcome.append(parse_raw(raw, "aliases.yaml").cassette)

    peak = _traced_peak(run)
    assert peak < 16 << 20, f"{peak:,} bytes for a {len(raw):,}-byte document"
    for cassette in outcome:  # what loaded is a finite tree: it can be walked and copied
        for entry in cassette.entries:
            dataclasses.asdict(entry)
