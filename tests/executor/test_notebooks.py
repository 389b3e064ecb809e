"""Notebooks and figures: each executed attempt leaves a notebook (written by the service),
figures the code leaves open become PNGs embedded in it, and the result says where."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from replaycodegen import MockCodeGenerator
from replaycodegen.cli import cli
from replaycodegen.errors import CodeRuntimeError
from replaycodegen.executor import PythonExecutorService
from replaycodegen.models import PythonExecutionRequest

from .conftest import ConfigFactory
from .helpers import SANDBOX_MISSING, ScriptedGenerator, execution_folders

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ISOLATIONS = [
    pytest.param(
        "sandbox", marks=pytest.mark.skipif(bool(SANDBOX_MISSING), reason=SANDBOX_MISSING)
    ),
    "process",
]
def read_notebook(path: Path) -> Any:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def outputs_of(notebook: Any, output_type: str) -> list[Any]:
    return [o for o in notebook.cells[1].outputs if o.output_type == output_type]


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_the_plot_behaviour_saves_a_valid_png_and_embeds_it(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, isolation: str
) -> None:
    image = pytest.importorskip("matplotlib.image", reason="the plot behaviour needs matplotlib")
    service = PythonExecutorService(generator=MockCodeGenerator(behavior="plot"))

    result = await service.ainvoke(exec_request, make_config(isolation=isolation))

    execution = result.execution_result
    assert execution.results == {"beam_current": 500.0, "beam_energy": 3.0, "points": 12}
    (figure,) = execution.figure_paths
    assert figure == execution.folder_path / "figure-1.png"
    data = figure.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    pixels = image.imread(figure)  # matplotlib (through Pillow) decodes it
    assert pixels.shape[:2] == (350, 600)  # figsize (6, 3.5) at 100 dpi
    notebook = read_notebook(execution.notebook_path)  # type: ignore[arg-type]
    (shown,) = outputs_of(notebook, "display_data")
    assert base64.b64decode(shown.data["image/png"]) == data


async def test_the_notebook_holds_the_code_its_output_and_its_results(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "print('hello from the code')\nresults = {'value': 42, 'items': [1, 2]}\n"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    result = await service.ainvoke(exec_request, make_config())

    execution = result.execution_result
    assert execution.notebook_path == execution.folder_path / "notebook.ipynb"
    notebook = read_notebook(execution.notebook_path)
    assert notebook.cells[0].cell_type == "markdown"
    assert "**Succeeded**" in notebook.cells[0].source
    assert notebook.cells[1].cell_type == "code"
    assert notebook.cells[1].source == code
    (stdout,) = outputs_of(notebook, "stream")
    assert (stdout.name, stdout.text) == ("stdout", "hello from the code\n")
    (shown,) = outputs_of(notebook, "execute_result")
    assert shown.data["application/json"] == {"value": 42, "items": [1, 2]}
    assert execution.figure_paths == []


async def test_every_failed_attempt_leaves_a_notebook_with_its_error(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory, execution_root: Path
) -> None:
    code = "x = 1\nresults = {'value': x / 0}\n"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    with pytest.raises(CodeRuntimeError):
        await service.ainvoke(exec_request.model_copy(update={"retries": 2}), make_config())

    folders = execution_folders(execution_root)
    assert len(folders) == 2
    for folder in folders:
        notebook = read_notebook(folder / "notebook.ipynb")
        assert "**Failed: ZeroDivisionError**" in notebook.cells[0].source
        (error,) = outputs_of(notebook, "error")
        assert (error.ename, error.evalue) == (
            "ZeroDivisionError",
            "ZeroDivisionError: division by zero",
        )
        assert any('generated_code.py", line 2' in line for line in error.traceback)


async def test_to_dict_has_osprey_keys_and_a_file_link(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    service = PythonExecutorService(generator=ScriptedGenerator("print('x')\nresults = {'v': 1}"))

    execution = (await service.ainvoke(exec_request, make_config())).execution_result
    data = execution.to_dict()

    assert set(data) == {
        "results", "execution_stdout", "execution_time_seconds", "execution_folder",
        "notebook_path", "notebook_link", "figure_paths", "figure_count",
    }  # fmt: skip
    assert data["results"] == {"v": 1} and data["execution_stdout"] == "x\n"
    assert data["execution_folder"] == str(execution.folder_path)
    assert data["notebook_path"] == str(execution.notebook_path)
    assert data["notebook_link"] == execution.notebook_link == execution.notebook_path.as_uri()  # type: ignore[union-attr]
    assert data["notebook_link"].startswith("file:///")
    assert (data["figure_paths"], data["figure_count"]) == ([], 0)


async def test_matplotlib_is_imported_only_when_the_code_imports_it(
    exec_request: PythonExecutionRequest, make_config: ConfigFactory
) -> None:
    code = "import sys\nresults = {'loaded': 'matplot' + 'lib' in sys.modules}\n"
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    execution = (await service.ainvoke(exec_request, make_config())).execution_result

    assert execution.results == {"loaded": False}
    assert execution.figure_paths == []
    assert not (execution.folder_path / ".matplotlib").exists()  # no font cache copied
    notebook = read_notebook(execution.notebook_path)  # type: ignore[arg-type]
    assert outputs_of(notebook, "display_data") == []


@pytest.mark.parametrize("isolation", ISOLATIONS)
async def test_figures_planted_by_the_code_are_not_read(
    exec_request: PythonExecutionRequest,
    make_config: ConfigFactory,
    tmp_path: Path,
    isolation: str,
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG_SIGNATURE + b"the service must not embed this")
    # The code forges its own outcome naming figures: a link out, a fake PNG, a FIFO.
    code = textwrap.dedent(
        f"""
        import os
        import replaycodegen.runtime as rt
        for target in [{str(secret)!r}]:
            os.symlink(target, "figure-1.png")
        with open("figure-2.png", "wb") as handle:
            handle.write(b"not a png")
        os.mkfifo("figure-3.png")
        rt._outcome_reporter().report_outcome(
            {{"status": "ok", "results": {{}}, "figures": ["figure-1.png", "figure-2.png",
                                                          "figure-3.png", "../escape.png"]}})
        os._exit(0)
        """
    )
    service = PythonExecutorService(generator=ScriptedGenerator(code))

    execution = (
        await service.ainvoke(exec_request, make_config(isolation=isolation))
    ).execution_result

    assert execution.figure_paths == []
    notebook = read_notebook(execution.notebook_path)  # type: ignore[arg-type]
    assert outputs_of(notebook, "display_data") == []


def test_run_prints_the_notebook_and_the_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot behaviour needs matplotlib")

    result = CliRunner().invoke(
        cli, ["run", "--behavior", "plot", "--execution-root", str(tmp_path / "runs")]
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    figures = lines.index("figures (1):")
    assert lines[figures + 1].strip().endswith("figure-1.png")
    assert Path(lines[figures + 1].strip()).is_file()
    (notebook,) = [line for line in lines if line.startswith("notebook: ")]
    assert Path(notebook.removeprefix("notebook: ")).is_file()
