"""Nothing secret is written, not even a hash of it (issue 11.5): entries are keyed on their
scrubbed text, and a live request is scrubbed the same way before its key is computed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from replaycodegen import (
    CassetteMiss,
    MockCodeGenerator,
    PythonExecutionRequest,
    load_cassette,
)
from replaycodegen.cassette.keys import fingerprint
from replaycodegen.cassette.scrub import Scrubber, scrub_file_name
from replaycodegen.generation import RecordingCodeGenerator
from replaycodegen.generation.openai_generator import OpenAICodeGenerator
from replaycodegen.generation.prompt import PromptBuilder
from replaycodegen.maintenance.lint import lint_file
from replaycodegen.testing import FakeOpenAIServer

from .conftest import ScriptedGenerator

FAKE_KEY = "sk-proj-" + "Zq81fakeKeyForTests0123456789abcdEFGH"
WEAK = "summer2024!"  # the weak secret an offline guess found in 134 tries
QUERY = f"Read the beam current with key {FAKE_KEY} and the password {WEAK}"


def request(query: str = QUERY) -> PythonExecutionRequest:
    return PythonExecutionRequest(user_query=query, task_objective="beam current",
                                  execution_folder_name="f")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_REPLAY = textwrap.dedent("""
    import asyncio, json, sys
    from replaycodegen import CassetteMiss, MockCodeGenerator, PythonExecutionRequest
    request = PythonExecutionRequest(user_query=sys.argv[2], task_objective="beam current",
                                     execution_folder_name="f")
    secrets = json.loads(sys.argv[3])
    try:
        code = asyncio.run(MockCodeGenerator(cassette=sys.argv[1], secrets=secrets)
                           .generate_code(request, []))
        print("HIT", code.strip())
    except CassetteMiss:
        print("MISS")
""")


def replay_in_fresh_process(path: Path, query: str, env: dict[str, str],
                            secrets: tuple[str, ...] = ()) -> str:
    done = subprocess.run([sys.executable, "-c", _REPLAY, str(path), query,
                           json.dumps(list(secrets))], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout.strip()


@pytest.mark.slow
def test_a_real_recording_keeps_no_secret_and_no_hash_of_one_and_replays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_DB_PASSWORD", WEAK)
    path = tmp_path / "beam.yaml"
    with FakeOpenAIServer() as server:
        server.queue_response("```python\nresults = {'current': 1.5}\n```")
        generator = OpenAICodeGenerator("fake-model", api_key=FAKE_KEY, base_url=server.base_url)
        recorder = RecordingCodeGenerator(generator, path, "once",
                                          description=f"recorded with {FAKE_KEY}")
        assert "current" in asyncio.run(recorder.generate_code(request(), []))
        recorder.close()
        assert FAKE_KEY in json.dumps(server.requests)  # the live call did carry the secrets
    text = path.read_text()
    messages = PromptBuilder().build(request(), [])
    for secret in (FAKE_KEY, WEAK):
        assert secret not in text
        assert sha(secret) not in text
    assert fingerprint(request()) not in text          # no key of the unscrubbed request
    assert PromptBuilder.fingerprint(messages) not in text  # no hash of the real prompt
    assert "prompt_sha256" not in text
    entry = load_cassette(path).entries[0]
    assert not entry.scrubbed and entry.stored_key == entry.key
    # replay in a fresh process, same request, same environment: a hit
    env = dict(os.environ)
    assert replay_in_fresh_process(path, QUERY, env) == "HIT results = {'current': 1.5}"
    # without the password in the environment, replay cannot tell it is a secret...
    env.pop("MY_DB_PASSWORD")
    assert replay_in_fresh_process(path, QUERY, env) == "MISS"
    # ...unless it is named, as the recording named it
    assert replay_in_fresh_process(path, QUERY, env, (WEAK,)).startswith("HIT")
    # a different key of the same shape scrubs to the same text: rotating a key keeps replay
    rotated = QUERY.replace(FAKE_KEY, "sk-proj-" + "Rotated9876543210abcdefghijKLMN")
    assert replay_in_fresh_process(path, rotated, env, (WEAK,)).startswith("HIT")


def test_key_shapes_glued_to_words_are_scrubbed() -> None:
    scrub = Scrubber(use_environment=False).text
    assert scrub(f"token_{FAKE_KEY}") == "token_<SCRUBBED>"
    assert scrub(f"key{FAKE_KEY}") == "key<SCRUBBED>"
    assert scrub("auth=xghp_" + "A1b2C3d4E5f6G7h8I9j0K1") == "auth=x<SCRUBBED>"
    for prose in ("a high-risk-assessment-for-the-beamline", "the_disk-usage-report-folder"):
        assert scrub(prose) == prose


def test_file_names_from_test_ids_are_scrubbed() -> None:
    name = scrub_file_name(f"test_call[{FAKE_KEY}]", Scrubber(use_environment=False))
    assert name == "test_call[SCRUBBED]"


async def test_the_description_is_scrubbed_on_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    recorder = RecordingCodeGenerator(ScriptedGenerator(), path, "once",
                                      description=f"made with token_{FAKE_KEY}")
    await recorder.generate_code(request("q"), [])
    recorder.close()
    assert FAKE_KEY not in path.read_text()
    assert load_cassette(path).description == "made with token_<SCRUBBED>"


def _legacy_cassette(path: Path) -> Path:
    """A cassette as replaycodegen 0.1 wrote it: scrubbed text, key of the original."""
    scrubbed = QUERY.replace(FAKE_KEY, "<SCRUBBED>").replace(WEAK, "<SCRUBBED>")
    path.write_text(
        "version: 1\nentries:\n  - id: e1\n    request:\n"
        f"      user_query: {scrubbed}\n      task_objective: beam current\n"
        "    error_chain: []\n    code: |\n      results = {'legacy': 1}\n"
        f"    scrubbed:\n    - user_query\n    key: {fingerprint(request())}\n"
    )
    return path


async def test_old_pinned_cassettes_still_replay_and_rehash_migrates_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from replaycodegen.cli import cli

    path = _legacy_cassette(tmp_path / "old.yaml")
    assert await MockCodeGenerator(cassette=path).generate_code(request(), [])  # pinned: a hit
    assert [f.rule for f in lint_file(path).findings] == ["pinned-hash"]
    monkeypatch.setenv("MY_DB_PASSWORD", WEAK)
    result = CliRunner().invoke(cli, ["rehash", str(path)])
    assert result.exit_code == 0, result.output
    assert "keyed 1 entry on the scrubbed text" in result.output
    text = path.read_text()
    assert fingerprint(request()) not in text and "scrubbed:" not in text
    assert lint_file(path).findings == []
    code = await MockCodeGenerator(cassette=path).generate_code(request(), [])
    assert code == "results = {'legacy': 1}\n"


async def test_lint_fix_migrates_pinned_entries_too(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from replaycodegen.cli import cli

    path = _legacy_cassette(tmp_path / "old.yaml")
    result = CliRunner().invoke(cli, ["lint", "--fix", str(path)])
    assert "fixed" in result.output and "pinned-hash" in result.output
    assert fingerprint(request()) not in path.read_text()


async def test_replay_pays_nothing_for_scrubbing_when_nothing_was_scrubbed(
    tmp_path: Path
) -> None:
    path = tmp_path / "clean.yaml"
    recorder = RecordingCodeGenerator(ScriptedGenerator(), path, "once")
    await recorder.generate_code(request("clean"), [])
    recorder.close()
    mock = MockCodeGenerator(cassette=path)
    await mock.generate_code(request("clean"), [])
    with pytest.raises(CassetteMiss):
        await mock.generate_code(request(QUERY), [])
    cassette = mock.cassette
    assert cassette is not None and cassette.scrubber is None  # never built, never run


async def test_the_recorder_finds_a_scrubbed_entry_and_a_miss_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_DB_PASSWORD", WEAK)
    path = tmp_path / "c.yaml"
    first = ScriptedGenerator()
    recorder = RecordingCodeGenerator(first, path, "once")
    code = await recorder.generate_code(request(), [])
    recorder.close()
    again = ScriptedGenerator()
    replaying = RecordingCodeGenerator(again, path, "once")
    replayed = await replaying.generate_code(request(), [])  # found via the scrubbed key
    assert replayed == code.replace(FAKE_KEY, "<SCRUBBED>").replace(WEAK, "<SCRUBBED>")
    assert again.calls == 0
    monkeypatch.delenv("MY_DB_PASSWORD")
    with pytest.raises(CassetteMiss) as info:
        await MockCodeGenerator(cassette=path).generate_code(request(), [])
    assert "it was recorded with a secret scrubbed out (<SCRUBBED>)" in str(info.value)
    assert "secrets=[...]" in str(info.value)
