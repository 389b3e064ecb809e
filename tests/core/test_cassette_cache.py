"""The parsed-cassette cache (issue 12.3): a hit serves exactly what a fresh parse would,
warnings included; an edit of one byte is never served; a bad cache file is ignored and
replaced; plain JSON, atomic, bounded, versioned; where it lives under pytest and outside."""

from __future__ import annotations

import importlib.metadata
import json
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from replaycodegen import CassetteError, CassetteWarning, load_cassette
from replaycodegen.cassette.loading import cache
from replaycodegen.cassette.loading.cache import ParsedCassetteCache
from tests.core.cassette_strategies import cassette_files, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::replaycodegen.CassetteWarning")

SAMPLE = (
    "version: 1\nentries:\n"
    "  - id: e1\n    request: {user_query: q, task_objective: o}\n    code: |\n      x = 1\n"
    "    key: " + "f" * 64 + "\n"  # stale: a warning on every load
    "  - id: e2\n    when: {attempt: 2}\n    code: |\n      y = 2\n"
)


def _load(path: Path, store: Any) -> tuple[dict[str, Any], list[tuple[str, int, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cassette = load_cassette(path, cache=store)
    shown = [(w.filename, w.lineno, str(w.message)) for w in caught
             if issubclass(w.category, CassetteWarning)]
    return snapshot(cassette), shown


@pytest.fixture
def store(tmp_path: Path) -> ParsedCassetteCache:
    return ParsedCassetteCache(tmp_path / "cache")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The cassette files read from disk (a stat fast-path hit reads none)."""
    seen: list[str] = []
    real = cache.read_with_stat

    def counting(path: Any, **kwargs: Any) -> Any:
        seen.append(os.fspath(path))
        return real(path, **kwargs)

    monkeypatch.setattr(cache, "read_with_stat", counting)
    yield seen


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cassette_files())
def test_a_hit_serves_exactly_what_a_fresh_parse_would(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "generated.yaml"
    path.write_bytes(raw)
    store = ParsedCassetteCache(tmp_path / f"cache-{time.monotonic_ns()}")
    try:
        fresh = _load(path, False)
    except CassetteError:
        return
    miss = _load(path, store)
    hit = _load(path, store)
    assert store.hits == 1 and store.misses == 1
    assert miss == fresh
    assert hit == fresh


def test_a_hit_repeats_the_warnings(tmp_path: Path, store: ParsedCassetteCache) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    first, hit = _load(path, store), _load(path, store)
    assert store.hits == 1
    assert hit == first and len(hit[1]) == 1
    assert hit[1][0][:2] == (str(path), 7)  # the line of `key:`


def _edit_one_byte_keeping_size_and_mtime(path: Path) -> None:
    before = path.stat()
    data = path.read_bytes()
    path.write_bytes(data.replace(b"y = 2", b"y = 3"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_an_edit_of_one_byte_is_never_served(tmp_path: Path, store: ParsedCassetteCache) -> None:
    """Just after the record was written (the "racy" window): the file is hashed."""
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    assert load_cassette(path, cache=store).entries[1].code == "y = 2\n"
    _edit_one_byte_keeping_size_and_mtime(path)
    assert load_cassette(path, cache=store).entries[1].code == "y = 3\n"
    assert store.hits == 0


def test_the_stat_fast_path_skips_the_read_but_catches_an_edit(
    tmp_path: Path, store: ParsedCassetteCache, reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the racy margin an unchanged file is served from its stat signature; an edit
    that restores size and mtime still changes the ctime, so it is read and parsed."""
    monkeypatch.setattr(cache, "RACY_NS", 50_000_000)  # 50 ms instead of 2 s
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    time.sleep(0.1)  # the file's last change is now older than the margin
    load_cassette(path, cache=store)
    reads.clear()
    assert load_cassette(path, cache=store).entries[1].code == "y = 2\n"
    assert reads == [] and store.hits == 1  # served without reading the cassette
    time.sleep(0.06)
    _edit_one_byte_keeping_size_and_mtime(path)
    assert load_cassette(path, cache=store).entries[1].code == "y = 3\n"
    assert reads == [str(path)] and store.hits == 1


def test_a_replaced_file_with_the_same_bytes_is_a_hit(tmp_path: Path,
                                                      store: ParsedCassetteCache) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)
    copy = tmp_path / "copy.yaml"
    copy.write_text(SAMPLE)
    os.replace(copy, path)  # a new inode, new times: hashed, same content
    load_cassette(path, cache=store)
    assert store.hits == 1


def test_a_hashed_hit_notes_the_signature_so_later_hits_skip_the_read(
    tmp_path: Path, store: ParsedCassetteCache, reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cached within the racy margin (a checkout, then the first run at once), or replaced
    by a copy of the same bytes: the next hit hashes the file, then writes down its
    signature; from then on it is served without reading the cassette, and an edit is
    still caught."""
    monkeypatch.setattr(cache, "RACY_NS", 50_000_000)
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)  # parsed within the margin: not trusted by stat
    time.sleep(0.1)
    reads.clear()
    load_cassette(path, cache=store)
    assert reads == [str(path)] and store.hits == 1  # hashed once more, signature noted
    for _ in range(2):
        assert load_cassette(path, cache=store).entries[1].code == "y = 2\n"
    assert reads == [str(path)] and store.hits == 3  # served from the signature
    copy = tmp_path / "copy.yaml"
    copy.write_text(SAMPLE)
    os.replace(copy, path)  # new inode, same bytes
    time.sleep(0.1)
    reads.clear()
    load_cassette(path, cache=store)
    load_cassette(path, cache=store)
    assert reads == [str(path)] and store.hits == 5
    time.sleep(0.06)
    _edit_one_byte_keeping_size_and_mtime(path)
    assert load_cassette(path, cache=store).entries[1].code == "y = 3\n"
    assert store.hits == 5
    assert not list(store.directory.glob("*.tmp"))


def _cache_file(store: ParsedCassetteCache) -> Path:
    (found,) = [p for p in store.directory.iterdir() if p.suffix == ".json"]
    return found


def test_cache_files_are_plain_json_lines_written_atomically(
    tmp_path: Path, store: ParsedCassetteCache,
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)
    record = _cache_file(store)
    lines = [json.loads(line) for line in record.read_bytes().splitlines()]
    head = lines[0]
    assert head["format"] == cache.FORMAT and head["tag"] == cache.version_tag()
    assert head["source"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    assert head["entries"] == 2 and len(lines[1]) == 2 and len(lines) == 2
    assert sorted(p.name for p in store.directory.iterdir()) == [record.name]  # no temp file
    assert oct(store.directory.stat().st_mode & 0o777) == "0o700"


def _corruptions(record: Path) -> dict[str, Any]:
    lines = record.read_bytes().splitlines(keepends=True)
    body = json.loads(lines[1])
    wrong_code = [list(e) for e in body]
    wrong_code[0][1] = 5
    head = json.loads(lines[0])
    other_version = dict(head, tag=head["tag"] + "-other")
    return {
        "garbage": b"\x00\xffnot json at all",
        "empty": b"",
        "a code that is not a string": lines[0] + json.dumps(wrong_code).encode(),
        "an entry missing": lines[0],
        "another version": json.dumps(other_version).encode() + b"\n" + b"".join(lines[1:]),
        "a pickle": b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00.",
        "deep JSON": lines[0] + b"[" * 100_000 + b"]" * 100_000,
    }


def _big_sample(entries: int) -> str:
    return "version: 1\nentries:\n" + "".join(
        f"  - id: e{n}\n    request: {{user_query: question {n}, task_objective: o}}\n"
        f"    code: |\n      x = {n}  # {'pad ' * 20}\n"
        for n in range(entries))


def test_a_large_cache_file_is_read_a_line_at_a_time_and_serves_the_same(
    tmp_path: Path, store: ParsedCassetteCache, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("replaycodegen.cassette.loading.cache_record.RECORDS_PER_LINE", 100)
    path = tmp_path / "big.yaml"
    path.write_text(_big_sample(1_500))
    expected = _load(path, False)
    assert _load(path, store) == expected  # parsed, then written to the cache
    record = _cache_file(store)
    assert record.stat().st_size > cache._SMALL  # the line-at-a-time path
    assert len(record.read_bytes().splitlines()) == 1 + 15
    assert _load(path, store) == expected and store.hits == 1
    # one batch line cut short: not served (a miss, parsed again, replaced)
    lines = record.read_bytes().splitlines(keepends=True)
    record.write_bytes(b"".join(lines[:-1]) + lines[-1][:50] + b"\n")
    assert _load(path, store) == expected and store.hits == 1
    assert _load(path, store) == expected and store.hits == 2


@pytest.mark.parametrize("damage", [
    "garbage", "empty", "a code that is not a string", "an entry missing", "another version",
    "a pickle", "deep JSON",
])
def test_a_bad_cache_file_is_ignored_and_replaced(tmp_path: Path, store: ParsedCassetteCache,
                                                  damage: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    expected = _load(path, False)
    load_cassette(path, cache=store)
    record = _cache_file(store)
    record.write_bytes(_corruptions(record)[damage])
    assert _load(path, store) == expected
    assert store.hits == 0
    assert _load(path, store) == expected and store.hits == 1  # replaced by a good one


def test_a_cache_file_that_is_a_symlink_is_not_followed(tmp_path: Path,
                                                        store: ParsedCassetteCache) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)
    record = _cache_file(store)
    elsewhere = tmp_path / "elsewhere.json"
    record.rename(elsewhere)
    record.symlink_to(elsewhere)
    load_cassette(path, cache=store)
    assert store.hits == 0


def test_an_unloadable_file_is_not_cached(tmp_path: Path, store: ParsedCassetteCache) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\nentries: {}\n")
    for _ in range(2):
        with pytest.raises(CassetteError, match="entries must be a list"):
            load_cassette(path, cache=store)
    assert not store.directory.exists() or not list(store.directory.iterdir())


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    store = ParsedCassetteCache(tmp_path / "cache", max_bytes=6_000)
    paths = []
    for i in range(30):
        paths.append(tmp_path / f"c{i}.yaml")
        paths[-1].write_text(SAMPLE.replace("x = 1", f"x = {i}"))
        load_cassette(paths[-1], cache=store)
        store._checked = False  # evict after every write
    total = sum(p.stat().st_size for p in store.directory.iterdir())
    assert total <= 6_000
    assert len(list(store.directory.iterdir())) < 30


def test_stale_temp_files_of_killed_writers_are_removed(tmp_path: Path,
                                                        store: ParsedCassetteCache) -> None:
    store.directory.mkdir()
    orphan = store.directory / "abc.123.456.tmp"
    orphan.write_bytes(b"half written")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)
    assert not orphan.exists()


def test_the_version_tag_names_this_release() -> None:
    assert importlib.metadata.version("replaycodegen") == cache.VERSION
    assert cache.VERSION in cache.version_tag()


def test_a_new_version_never_reads_an_old_record(tmp_path: Path, store: ParsedCassetteCache,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    load_cassette(path, cache=store)
    monkeypatch.setattr(cache, "_tag", cache.version_tag() + "-next")
    load_cassette(path, cache=store)
    assert store.hits == 0


# -- where the cache lives, and turning it off ---------------------------------------------


@pytest.fixture
def default_restored() -> Iterator[None]:
    restore = cache.set_default_cache(None)
    yield
    restore()


def test_the_environment_chooses_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             default_restored: None) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    monkeypatch.setenv("REPLAYCODEGEN_CACHE_DIR", str(tmp_path / "env-cache"))
    assert cache.default_cache() == cache.choose(None)
    assert cache.choose(None).directory == tmp_path / "env-cache"  # type: ignore[union-attr]
    cache.set_default_cache(None)
    monkeypatch.setenv("REPLAYCODEGEN_CACHE_DIR", "off")
    assert cache.default_cache() is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_cassette(path)
    cache.set_default_cache(None)
    monkeypatch.delenv("REPLAYCODEGEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache().directory == tmp_path / "xdg" / "replaycodegen"  # type: ignore[union-attr]


def test_cache_false_and_a_folder_argument(tmp_path: Path, default_restored: None) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    cache.set_default_cache(tmp_path / "default")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_cassette(path, cache=False)
        assert not (tmp_path / "default").exists()
        load_cassette(path, cache=tmp_path / "given")
        load_cassette(path)
    assert len(list((tmp_path / "given").iterdir())) == 1
    assert len(list((tmp_path / "default").iterdir())) == 1


PLUGIN_TEST = """
def test_uses_it(codegen):
    assert codegen is not None
"""


def _plugin_suite(pytester: pytest.Pytester) -> None:
    folder = pytester.path / "cassettes" / "test_cached"
    folder.mkdir(parents=True)
    (folder / "test_uses_it.yaml").write_text(SAMPLE.replace("    key: " + "f" * 64 + "\n", ""))
    pytester.makepyfile(test_cached=PLUGIN_TEST)


def _records(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.json")) if folder.exists() else []


def test_the_plugin_caches_in_pytests_cache_dir(pytester: pytest.Pytester,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLAYCODEGEN_CACHE_DIR", raising=False)
    _plugin_suite(pytester)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert len(_records(pytester.path / ".pytest_cache" / "d" / "replaycodegen")) == 1


def test_the_plugin_options_choose_or_turn_off_the_cache(pytester: pytest.Pytester,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLAYCODEGEN_CACHE_DIR", raising=False)
    _plugin_suite(pytester)
    pytester.runpytest_subprocess("--codegen-cache-dir=mine").assert_outcomes(passed=1)
    assert len(_records(pytester.path / "mine")) == 1
    pytester.makeini("[pytest]\ncodegen_cache_dir = from-ini\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert len(_records(pytester.path / "from-ini")) == 1
    pytester.runpytest_subprocess("--no-codegen-cache", "-p", "no:cacheprovider"
                                  ).assert_outcomes(passed=1)
    assert not _records(pytester.path / ".pytest_cache")
    monkeypatch.setenv("REPLAYCODEGEN_CACHE_DIR", "off")
    pytester.makeini("[pytest]\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert not _records(pytester.path / ".pytest_cache" / "d" / "replaycodegen")



def test_each_match_on_asked_for_has_its_own_entry(tmp_path: Path,
                                                   store: ParsedCassetteCache) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE)
    keys = {}
    for _ in range(2):
        for match_on in (None, ["user_query"]):
            cassette = load_cassette(path, match_on=match_on, cache=store)
            keys.setdefault(str(match_on), set()).add(cassette.entries[0].key)
            assert cassette.match_on == (tuple(match_on) if match_on else cassette.match_on)
    assert store.hits == 2
    assert all(len(found) == 1 for found in keys.values())
    assert keys["None"] != keys["['user_query']"]


def test_every_source_the_cache_version_covers_exists() -> None:
    """A moved or renamed loader module must not silently drop out of the version tag."""
    from pathlib import Path

    import replaycodegen
    from replaycodegen.cassette.loading import cache as cache_module

    package = Path(replaycodegen.__file__).parent
    missing = [name for name in cache_module._FINGERPRINTED if not (package / name).is_file()]
    assert missing == []


def test_every_loading_module_is_covered_by_the_version_tag() -> None:
    """A new module under cassette/loading/ decides what a parse yields too."""
    from pathlib import Path

    import replaycodegen
    from replaycodegen.cassette.loading import cache as cache_module

    package = Path(replaycodegen.__file__).parent
    loading = {f"cassette/loading/{p.name}" for p in (package / "cassette/loading").glob("*.py")
               if p.name != "__init__.py"}
    assert loading - set(cache_module._FINGERPRINTED) == set()


def test_the_tag_follows_pyyaml_without_importing_it(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import hashlib
    import importlib.util
    import subprocess
    import sys

    import yaml

    expected = hashlib.sha256(Path(yaml.__file__).read_bytes()).hexdigest()[:12]
    assert f"pyyaml-{expected}:" in cache.version_tag()
    other = tmp_path / "__init__.py"
    other.write_text("__version__ = '99.0'\n")
    spec = importlib.util.spec_from_file_location("yaml", other)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: spec)
    monkeypatch.setattr(cache, "_tag", None)
    assert expected not in cache.version_tag()  # another PyYAML: another tag
    code = ("import sys; from replaycodegen.cassette.loading import cache; cache.version_tag(); "
            "assert 'yaml' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
