"""The parsed-cassette cache: a cassette is parsed once per content, not once per run.

- **Keyed by content**: the sha256 of the file's bytes (plus the ``match_on`` asked for and
  the version tag below); an edit of one byte is a different key, whatever the mtime.
- **Plain data**: one JSON file per parsed cassette, never pickle. A cache file may have
  been written by someone else, so it is read like input: a regular file owned by this
  user, JSON of the expected shape, every field type-checked; anything else is ignored
  (and replaced by the next parse).
- **Never trusted across versions**: the tag holds the cache format, the replaycodegen
  version and a fingerprint of the modules that decide what a parse yields (an edited
  checkout gets a new tag too), PyYAML's version and Python's.
- **Written atomically** (a temp file, then ``os.replace``), **bounded** (past
  ``REPLAYCODEGEN_CACHE_MAX_MB``, 1 GiB by default, the oldest files are evicted; one
  cassette takes at most a quarter of it). Written and read a batch of entries at a
  time, so the cache adds little to a load's memory.
- **Where**: pytest's cache directory under the plugin (``--codegen-cache-dir``,
  ``--no-codegen-cache``), else ``REPLAYCODEGEN_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/replaycodegen`` (``~/.cache/replaycodegen``); ``off`` turns it off.

A hit serves what the parse served, warnings included: the warnings are stored with it.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

from replaycodegen.cassette.loading.files import read_with_stat, signature

if TYPE_CHECKING:
    from replaycodegen.cassette.loading.outcome import Parsed

FORMAT = 3
VERSION = "0.1.0"
"""The replaycodegen release this cache belongs to (the fingerprint covers its code)."""
ENV_DIR = "REPLAYCODEGEN_CACHE_DIR"
ENV_MAX = "REPLAYCODEGEN_CACHE_MAX_MB"
OFF = frozenset({"off", "0", "false", "no", "none", "disabled", ""})
DEFAULT_MAX_BYTES = 1 << 30
RACY_NS = 2_000_000_000
"""A stat signature taken within 2 s of the file's last change is not trusted (the file
is hashed instead): timestamps have a granularity, from 1 ns to 2 s (FAT)."""
_RECENT = 3600.0
"""A hit refreshes a file's mtime (the eviction order) at most once an hour."""
_FINGERPRINTED = (
    "cassette/loading/cache.py", "cassette/loading/cache_record.py",
    "cassette/loading/compose.py", "cassette/loading/entry_split.py",
    "cassette/loading/fastpath.py", "cassette/loading/files.py",
    "cassette/loading/foreign.py", "cassette/loading/loader.py",
    "cassette/loading/outcome.py", "cassette/loading/parse.py",
    "cassette/loading/validate.py",
    "cassette/keys.py", "cassette/model.py", "cassette/scrub.py", "cassette/yamlio.py",
    "errors.py", "models.py",
)
"""The sources whose bytes the cache's version tag covers: what decides a parse."""



def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/replaycodegen``, ``~/.cache/replaycodegen`` (on Windows,
    ``%LOCALAPPDATA%/replaycodegen/cache``)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg) / "replaycodegen"
    local = os.environ.get("LOCALAPPDATA", "").strip()
    if sys.platform == "win32" and local:
        return Path(local) / "replaycodegen" / "cache"
    return Path.home() / ".cache" / "replaycodegen"


_tag: str | None = None


def version_tag() -> str:
    """What a cache file must have been written by: format, release, code, PyYAML, Python."""
    global _tag
    if _tag is None:
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent.parent
        for name in _FINGERPRINTED:
            try:
                digest.update((package / name).read_bytes())
            except OSError:
                digest.update(f"missing {name}".encode())
        python = ".".join(map(str, sys.version_info[:2]))
        _tag = (
            f"{FORMAT}:{VERSION}:{digest.hexdigest()[:16]}:pyyaml-{_pyyaml_fingerprint()}:"
            f"py{python}"
        )
    return _tag


def _pyyaml_fingerprint() -> str:
    """PyYAML's version, without importing it (a cache hit never needs YAML): the bytes of
    its ``__init__.py``, which holds ``__version__``."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("yaml")
        origin = spec.origin if spec is not None else None
        return hashlib.sha256(Path(origin).read_bytes()).hexdigest()[:12] if origin else "none"
    except (ImportError, ValueError, OSError):
        return "none"


# -- the cache folder ---------------------------------------------------------------------


@dataclass(slots=True)
class Lookup:
    """What a look-up found: the parse on a hit; on a miss, the bytes if it read them."""

    parsed: Parsed | None = None
    raw: bytes | None = None
    stat: os.stat_result | None = None
    source: str | None = None


class ParsedCassetteCache:
    """Parsed cassettes as JSON files in ``directory`` (created on first write, 0700).

    One file per cassette path (and ``match_on`` asked for): a header line (the version
    tag, the sha256 of the bytes it was parsed from, the file's stat signature) and the
    parse. It serves a load when the file's sha256 is that one, or, without reading the
    file, when its stat signature is unchanged and was taken more than
    :data:`RACY_NS` after the file's last change (see :meth:`lookup`).
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int | None = None):
        self.directory = Path(directory)
        self.max_bytes = _max_bytes() if max_bytes is None else max_bytes
        self._written = 0
        self._checked = False
        self._made = False
        self.hits = 0
        self.misses = 0
        self._names: dict[tuple[str, str, str], str] = {}
        """(tag, absolute path, match_on) -> cache file name, worked out once."""

    def __repr__(self) -> str:
        return f"ParsedCassetteCache({str(self.directory)!r})"

    def _file(self, path: str, match_on: Sequence[str] | None) -> str:
        asked = "-" if match_on is None else ",".join(match_on)
        memo = (version_tag(), path, asked)
        found = self._names.get(memo)
        if found is None:
            where = os.path.abspath(path)
            name = hashlib.sha256(f"{memo[0]}\0{where}\0{asked}".encode()).hexdigest()
            found = os.path.join(self.directory, name + ".json")
            if where == path:  # a relative path may mean another file after a chdir
                if len(self._names) > 100_000:
                    self._names.clear()
                self._names[memo] = found
        return found

    def lookup(self, path: str, match_on: Sequence[str] | None,
               current: os.stat_result | None = None) -> Lookup:
        """The cached parse of ``path`` if it is the parse of the file as it is now.

        Without reading the file when its stat signature (device, inode, size, mtime,
        ctime) is the one stored and the stored ctime is more than :data:`RACY_NS` older
        than the moment that signature was taken. Why an edit is always caught: the
        kernel sets ctime to the current time on every write *and* on every mtime
        change (``touch -d``, ``os.utime``), and nothing can set it back; so an edit
        made after the signature was taken gives a ctime newer than the stored one. An
        edit in the same clock tick as the signature (the "racy" case git's index knows)
        is ruled out by the margin: a file changed within it is always hashed.
        Otherwise the file is read and its sha256 compared with the stored one.
        ``current``: the file's ``os.stat`` if the caller has just taken it.
        """
        from replaycodegen.cassette.loading.cache_record import BadCacheFile, read_record
        from replaycodegen.cassette.loading.outcome import Parsed

        file = self._file(path, match_on)
        found = Lookup()
        try:
            first, rest, handle = _open_own_file(file)
        except (OSError, BadCacheFile, UnicodeDecodeError):
            self.misses += 1
            return found
        with handle or contextlib.nullcontext():
            try:
                head = _read_head(first)
            except (BadCacheFile, ValueError, RecursionError):  # ValueError: bad JSON, UTF-8
                self.misses += 1
                return found
            trusted = False
            stored = head["stat"]
            if stored is not None and stored[4] < head["verified_ns"] - RACY_NS:
                with contextlib.suppress(OSError, ValueError):
                    st = os.stat(path) if current is None else current
                    trusted = stat.S_ISREG(st.st_mode) and list(signature(st)) == stored
            refresh = False
            if not trusted:
                found.raw, found.stat = read_with_stat(path)
                found.source = hashlib.sha256(found.raw).hexdigest()
                trusted = found.source == head["source"]
                # the same bytes: note the file's signature now, once it is old enough to
                # be trusted, so that later look-ups need not read the file (git's racy
                # index, refreshed)
                refresh = trusted and found.stat is not None and (
                    found.stat.st_ctime_ns < time.time_ns() - RACY_NS)
            if not trusted:
                self.misses += 1
                return found
            paused = gc.isenabled()
            gc.disable()  # as for a parse: thousands of small objects, none of them cyclic
            try:
                cassette, notes = read_record(head, rest, path)
            except (BadCacheFile, ValueError, TypeError, RecursionError, OSError):
                self.misses += 1
                return found
            finally:
                if paused:
                    gc.enable()
        found.parsed = Parsed(cassette, notes)
        if refresh and found.source is not None:
            # the file's signature now, in a header written afresh (as a parse is saved)
            self.save(path, match_on, found.parsed, found.source, found.stat)
        elif time.time() - head["verified_ns"] / 1e9 > _RECENT:
            with contextlib.suppress(OSError):
                os.utime(file)
        self.hits += 1
        return found

    def save(
        self, path: str, match_on: Sequence[str] | None, parsed: Parsed, source: str,
        st: os.stat_result | None,
    ) -> None:
        """Store a parse (never an error): atomic, and never fatal when it fails."""
        from replaycodegen.cassette.loading.cache_record import record_fields, record_lines

        head = {
            "format": FORMAT,
            "tag": version_tag(),
            "source": source,
            "stat": list(signature(st)) if st is not None else None,
            "verified_ns": time.time_ns(),
            **record_fields(parsed.cassette, parsed.notes),
        }
        lines = itertools.chain([json.dumps(head, ensure_ascii=False)],
                                record_lines(parsed.cassette))
        try:
            if not self._made:
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._made = True
            written = _atomic_write_lines(self._file(path, match_on), lines, self.max_bytes // 4)
        except (OSError, ValueError, TypeError, UnicodeError, RecursionError):
            return
        self._written += written
        if not self._checked or self._written > self.max_bytes // 8:
            self._checked, self._written = True, 0
            self.evict()

    def evict(self) -> None:
        """Delete the oldest files past ``max_bytes`` (to 80% of it), and stale temp files."""
        try:
            found = []
            now = time.time()
            with os.scandir(self.directory) as listing:
                for item in listing:
                    if not item.is_file(follow_symlinks=False):
                        continue
                    st = item.stat(follow_symlinks=False)
                    if item.name.endswith(".tmp"):
                        if now - st.st_mtime > _RECENT:
                            with contextlib.suppress(OSError):
                                os.unlink(item.path)
                    elif item.name.endswith(".json"):
                        found.append((st.st_mtime, st.st_size, item.path))
        except OSError:
            return
        total = sum(size for _, size, _ in found)
        if total <= self.max_bytes:
            return
        found.sort()
        for _mtime, size, file in found:
            if total <= self.max_bytes * 0.8:
                break
            with contextlib.suppress(OSError):
                os.unlink(file)
                total -= size

    def clear(self) -> None:
        """Delete every cache file of this folder."""
        with contextlib.suppress(OSError), os.scandir(self.directory) as listing:
            for item in listing:
                if item.name.endswith((".json", ".tmp")):
                    with contextlib.suppress(OSError):
                        os.unlink(item.path)


def _max_bytes() -> int:
    raw = os.environ.get(ENV_MAX, "").strip()
    try:
        return int(float(raw) * (1 << 20)) if raw else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


_SMALL = 1 << 16
"""A cache file up to this size is read in one call (most are: a small cassette's is
about 1 KiB); a larger one a line at a time, so a big cassette's never sits in memory
whole next to its parse."""


def _open_own_file(file: str) -> tuple[str | bytes, Iterator[str | bytes], BinaryIO | None]:
    """A cache file's first line, an iterator over the others, and the open file to close
    (``None``: already read and closed). Only a regular file (not a symlink) owned by this
    user, else ``BadCacheFile``."""
    from replaycodegen.cassette.loading.cache_record import BadCacheFile

    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadCacheFile("not a regular file")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise BadCacheFile("written by another user")
        if st.st_size > _SMALL:
            # the handle owns fd from here on (closed by the caller's with block)
            handle = open(fd, "rb", buffering=_SMALL)  # noqa: SIM115
        else:
            data = os.read(fd, _SMALL + 1)
            handle = None
    except BaseException:
        os.close(fd)
        raise
    if handle is not None:
        try:
            return handle.readline(), iter(handle), handle
        except BaseException:
            handle.close()
            raise
    os.close(fd)
    lines = data.decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines:
        raise BadCacheFile("empty")
    return lines[0], iter(lines[1:]), None


def _read_head(line: str | bytes) -> dict[str, Any]:
    """The first line of a cache file: written by this version, else ``BadCacheFile``."""
    from replaycodegen.cassette.loading.cache_record import BadCacheFile

    head = json.loads(line)
    if type(head) is not dict or head.get("format") != FORMAT or \
            head.get("tag") != version_tag():
        raise BadCacheFile("header")
    stored = head.get("stat")
    if (
        type(head.get("source")) is not str
        or type(head.get("verified_ns")) is not int
        or not (stored is None or (type(stored) is list and len(stored) == 5
                                   and all(type(n) is int for n in stored)))
    ):
        raise BadCacheFile("header")
    return head


def _atomic_write_lines(target: str, lines: Iterator[str], limit: int) -> int:
    """Write the lines to a temp file, then replace ``target`` with it; past ``limit``
    bytes nothing is written. Returns the size written."""
    tmp = f"{target[:-5]}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    size = 0
    try:
        with open(fd, "wb", buffering=1 << 16) as handle:
            for line in lines:
                data = line.encode("utf-8") + b"\n"
                size += len(data)
                if size > limit:
                    raise ValueError("too large for the cache")
                handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return size


# -- the default, and what ``load_cassette(cache=...)`` accepts -----------------------------

CacheChoice: TypeAlias = "ParsedCassetteCache | str | os.PathLike[str] | bool | None"

_UNSET: Any = object()
_default: Any = _UNSET
_by_folder: dict[str, ParsedCassetteCache] = {}


def _from_environment() -> ParsedCassetteCache | None:
    raw = os.environ.get(ENV_DIR)
    if raw is not None:
        if raw.strip().lower() in OFF:
            return None
        return _folder(Path(raw).expanduser())
    return _folder(user_cache_dir())


def _folder(directory: Path) -> ParsedCassetteCache:
    key = os.path.abspath(directory)
    found = _by_folder.get(key)
    if found is None:
        found = _by_folder[key] = ParsedCassetteCache(key)
    return found


def default_cache() -> ParsedCassetteCache | None:
    """The cache ``load_cassette`` uses by default (``None``: off)."""
    global _default
    if _default is _UNSET:
        _default = _from_environment()
    return _default  # type: ignore[no-any-return]


def set_default_cache(
    cache: ParsedCassetteCache | str | os.PathLike[str] | bool | None,
) -> Callable[[], None]:
    """Point the default at a folder or a cache (``False``: off; ``None``: back to the
    environment's choice). Returns a function that restores the previous default (the
    pytest plugin registers it as a cleanup)."""
    global _default
    previous = _default
    if cache is None:
        _default = _UNSET
    elif cache is False:
        _default = None
    elif cache is True:
        _default = _from_environment() or _folder(user_cache_dir())
    elif isinstance(cache, ParsedCassetteCache):
        _default = cache
    else:
        _default = _folder(Path(cache).expanduser())

    def restore() -> None:
        global _default
        _default = previous

    return restore


def choose(cache: CacheChoice) -> ParsedCassetteCache | None:
    """What ``load_cassette(cache=...)`` means: ``None`` the default, ``False`` none,
    ``True`` the default (or the user cache dir), a folder or a cache: that one."""
    if cache is None:
        return default_cache()
    if cache is False:
        return None
    if cache is True:
        return default_cache() or _folder(user_cache_dir())
    if isinstance(cache, ParsedCassetteCache):
        return cache
    return _folder(Path(cache).expanduser())
