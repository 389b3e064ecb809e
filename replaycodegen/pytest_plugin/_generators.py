"""The generator one test gets: a replaying mock, a shipped behaviour, or a recorder.

- record mode ``none``: :class:`ReplayingMockCodeGenerator` over the cassette file (a
  missing file is a ``CassetteMiss`` "no such cassette" at the first call);
- ``behavior=``: a plain ``MockCodeGenerator(behavior=...)``, in every mode;
- recording modes: ``RecordingCodeGenerator`` around the real generator
  (``OpenAICodeGenerator`` unless ``codegen_config["generator"]`` says otherwise), built
  by ``_recording``, which a replaying session never imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replaycodegen.cassette.miss import NO_SUCH_CASSETTE, explain_miss
from replaycodegen.errors import CassetteMiss
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.models import ErrorChainItem, PythonExecutionRequest

from ._cassettes import SessionCassettes
from ._claims import SessionClaims
from ._commands import CodegenFixes
from ._config import effective_match_on
from ._paths import CassetteMarker
from ._settings import CodegenSettings

if TYPE_CHECKING:
    from replaycodegen.cassette.model import Cassette
    from replaycodegen.generation.recording import RecordingCodeGenerator

class ReplayingMockCodeGenerator(MockCodeGenerator):
    """``MockCodeGenerator`` over one cassette file that counts its misses and ends them
    with the pytest command that records this test.

    A missing file (``cassette=None``) raises ``CassetteMiss`` ("no such cassette") at
    the first call, unless the test configured code with ``set_code``.
    """

    def __init__(self, path: Path, cassette: Cassette | None, fixes: CodegenFixes,
                 secrets: Sequence[str] = ()) -> None:
        super().__init__(cassette=cassette, secrets=secrets)
        self.cassette_path = path
        self.file_cassette = cassette
        self.fixes = fixes

    def __repr__(self) -> str:
        state = "" if self.file_cassette is not None else ", missing"
        return f"ReplayingMockCodeGenerator({str(self.cassette_path)!r}{state})"

    def serve(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem]) -> str:
        cassette = self.cassette
        if cassette is None:
            self.misses += 1
            raise self.note_miss(request, error_chain, explain_miss(
                None, request, error_chain, reason=NO_SUCH_CASSETTE,
                cassette_path=str(self.cassette_path), fix=self.fixes.miss(NO_SUCH_CASSETTE)))
        return super().serve(request, error_chain)  # counts its misses itself

    def note_miss(self, request: PythonExecutionRequest, error_chain: Sequence[ErrorChainItem],
                  error: CassetteMiss) -> CassetteMiss:
        """A miss of the file's cassette ends with the pytest command of this test."""
        cassette = self.cassette
        if cassette is not None and cassette is self.file_cassette:
            error = explain_miss(cassette, request, error_chain, reason=error.reason,
                                 key=error.key, cassette_path=str(self.cassette_path),
                                 fix=self.fixes.miss(error.reason))
        return super().note_miss(request, error_chain, error)


@dataclass
class CassetteUse:
    """What one test did with one cassette file."""

    path: Path
    played: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    misses: int = 0


@dataclass
class GeneratorInUse:
    """The generator a test got, and what is needed to account for it afterwards."""

    generator: CodeGenerator
    path: Path | None
    mode: str
    recorder: RecordingCodeGenerator | None = None
    """The generator itself when the test records (set by ``open_generator``)."""
    dropped: set[str] = field(default_factory=set)
    match_on: tuple[str, ...] | None = None
    """The marker's or ``codegen_config``'s ``match_on`` (``None``: the cassette's own),
    for naming a miss's key when the test is accounted for."""

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def recorded_ids(self) -> set[str]:
        if self.recorder is not None:
            return {entry.id for entry in self.recorder.recorded} - self.dropped
        return set()

    def drop_recorded(self) -> set[str]:
        """Remove this test's new entries from the cassette file (locked, atomic)."""
        ids = self.recorded_ids()
        if ids and self.path is not None and self.recorder is not None:
            from replaycodegen.cassette.writing.store import CassetteStore

            self.dropped |= CassetteStore(self.path).remove(
                ids, reinstate=self.recorder.replaced)
        return self.dropped

    def use(self) -> CassetteUse | None:
        """What the test did with its cassette file; ``None`` for behaviours (shipped
        cassettes are not accounted for) and for a missing file nobody asked for."""
        gen, recorder = self.generator, self.recorder
        if self.path is None:
            return None
        if recorder is not None:
            recorded = {entry.id for entry in recorder.recorded}
            return CassetteUse(self.path, set(recorder.cassette.played_ids) - recorded,
                               recorded - self.dropped, set(self.dropped), recorder.misses)
        if isinstance(gen, ReplayingMockCodeGenerator):
            if gen.file_cassette is None and not gen.misses:
                return None  # no file, and never asked for one (set_code)
            played = set(gen.file_cassette.played_ids) if gen.file_cassette else set()
            return CassetteUse(self.path, played, misses=gen.misses)
        return None


def open_generator(
    *, path: Path, marker: CassetteMarker, mode: str, config: Mapping[str, Any],
    settings: CodegenSettings, claims: SessionClaims, test_id: str,
    cassettes: SessionCassettes, fixes: CodegenFixes,
) -> GeneratorInUse:
    """Build the generator for one test (see the module docstring)."""
    if marker.behavior is not None:
        return GeneratorInUse(MockCodeGenerator(behavior=marker.behavior), None, mode)
    match_on = effective_match_on(marker, config)
    secrets = [str(s) for s in config.get("secrets", ())]
    if mode == "none":
        # the test's own copy of the parsed cassette: its scrubber stays with this test
        cassette = cassettes.load(path, match_on)
        return GeneratorInUse(
            ReplayingMockCodeGenerator(path, cassette, fixes, secrets), path, mode,
            match_on=match_on)
    from ._recording import open_recorder  # only a recording session imports the recorder

    recorder = open_recorder(
        path=path, match_on=match_on, mode=mode, config=config, settings=settings,
        claims=claims, test_id=test_id, secrets=secrets, fixes=fixes)
    return GeneratorInUse(recorder, path, mode, recorder, match_on=match_on)
