"""The Jupyter notebook of one executed attempt: what ran and what came of it.

Written by the service (never by the sandboxed code) into the execution folder as
``notebook.ipynb``: a markdown cell with the verdict, then the code as a code cell whose
outputs are what the code printed, the figures it left open (PNG, embedded), and its
results or its error, so a person can open what ran and see why it failed.
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from replaycodegen.executor.results import ChannelWrite, RefusedChannelWrite

__all__ = ["NOTEBOOK_NAME", "NotebookContent", "preload", "render_notebook"]

NOTEBOOK_NAME = "notebook.ipynb"
_MAX_RESULTS_TEXT = 100_000  # characters of results shown as text; the rest is cut


@dataclass(frozen=True)
class NotebookContent:
    """Everything a notebook shows about one run."""

    title: str
    code: str
    stdout: str
    stderr: str
    results: dict[str, Any] | None
    error_type: str | None
    error_message: str | None
    traceback: str | None
    figures: Sequence[bytes]
    isolation: str
    execution_time: float
    channel_writes: Sequence[ChannelWrite] = ()
    refused_channel_writes: Sequence[RefusedChannelWrite] = ()


def preload() -> None:
    """Import nbformat now (about 0.1-0.2 s, once per process), so that writing the first
    notebook after a timeout does not delay the report."""
    importlib.import_module("nbformat")


def render_notebook(content: NotebookContent) -> bytes:
    """The notebook as nbformat 4 JSON."""
    # nbformat has no type hints; imported when the first notebook is written.
    nbformat: Any = importlib.import_module("nbformat")
    v4: Any = importlib.import_module("nbformat.v4")

    outputs: list[Any] = []
    if content.stdout:
        outputs.append(v4.new_output("stream", name="stdout", text=content.stdout))
    if content.stderr:
        outputs.append(v4.new_output("stream", name="stderr", text=content.stderr))
    for png in content.figures:
        outputs.append(
            v4.new_output(
                "display_data",
                data={"image/png": base64.b64encode(png).decode("ascii"),
                      "text/plain": "<Figure>"},
            )
        )
    if content.error_type is not None:
        outputs.append(
            v4.new_output(
                "error",
                ename=content.error_type,
                evalue=content.error_message or "",
                traceback=(content.traceback or content.error_message or "").splitlines(),
            )
        )
    elif content.results is not None:
        outputs.append(
            v4.new_output("execute_result", data=_results_data(content.results),
                          execution_count=1)
        )
    cells = [
        v4.new_markdown_cell(_summary(content)),
        v4.new_code_cell(content.code, execution_count=1, outputs=outputs),
    ]
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "replaycodegen": {"isolation": content.isolation},
        },
    )
    text: str = nbformat.writes(notebook)
    return text.encode("utf-8")


def _results_data(results: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(results, indent=2, ensure_ascii=False, allow_nan=True, default=repr)
    if len(text) <= _MAX_RESULTS_TEXT:
        return {"application/json": results, "text/plain": f"results = {text}"}
    shown = text[:_MAX_RESULTS_TEXT]
    return {"text/plain": f"results = {shown}\n... ({len(text) - len(shown)} more characters)"}


def _summary(content: NotebookContent) -> str:
    failed = content.error_type is not None
    verdict = f"**Failed: {content.error_type}**" if failed else "**Succeeded**"
    lines = [
        f"# {content.title}",
        "",
        f"{verdict} in {content.execution_time:.3f} s (isolation: {content.isolation}).",
    ]
    if content.error_message:
        lines += ["", f"> {content.error_message}"]
    for write in content.channel_writes:
        lines.append(f"- wrote `{write.channel}`: {write.previous!r} -> {write.value!r}")
    for refused in content.refused_channel_writes:
        lines.append(f"- refused (not approved): `{refused.channel}` = {refused.value!r}")
    if content.figures:
        lines += ["", f"{len(content.figures)} figure(s) below the code."]
    return "\n".join(lines)
