"""The request and error models shared by generators, cassettes and the executor, and
``validate_result_structure``, the static check that code builds a ``results`` dict."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TRACEBACK_LIMIT = 1000
"""A traceback longer than this is cut to its first and last ``TRACEBACK_LIMIT // 2``."""
TRUNCATION_MARK = "\n... (truncated) ...\n"


class PythonExecutionRequest(BaseModel):
    """What the pipeline is asked to do; the generator turns it into code.

    Unknown fields are ignored, so requests built for a richer service still validate.
    """

    model_config = ConfigDict(extra="ignore")

    user_query: str
    task_objective: str
    execution_folder_name: str
    expected_results: dict[str, Any] = Field(default_factory=dict)
    capability_prompts: list[str] = Field(default_factory=list)
    retries: int = 3
    capability_context_data: dict[str, Any] | None = None
    session_context: dict[str, Any] | None = None
    execution_folder_path: str | None = None


@dataclass
class ExecutionError:
    """One failed attempt, as fed back to the generator in the error chain."""

    error_type: str
    error_message: str
    failed_code: str | None = None
    traceback: str | None = None
    attempt_number: int = 1
    stage: str = ""
    analysis_issues: list[str] = field(default_factory=list)

    def to_prompt_text(self) -> str:
        """This error as Osprey renders it for an LLM prompt (Markdown, one line per part).

        ``**Attempt N - STAGE FAILED**``; the failed code in a ```` ```python ```` fence;
        ``**Error Type:**`` and ``**Error:**``; ``**Issues Found:**`` with one ``  - issue``
        line each; ``**Traceback:**`` in a fence, a traceback over 1,000 characters cut to
        its first and last 500 around ``... (truncated) ...``. Parts that are empty are
        left out. An empty ``stage`` leaves the stage word out (``**Attempt 1 - FAILED**``)
        rather than printing Osprey's double space.
        """
        stage = f"{self.stage.upper()} " if self.stage else ""
        lines = [f"**Attempt {self.attempt_number} - {stage}FAILED**"]
        if self.failed_code:
            lines += ["", "**Code that failed:**", "```python", self.failed_code, "```"]
        lines += ["", f"**Error Type:** {self.error_type}", f"**Error:** {self.error_message}"]
        if self.analysis_issues:
            lines += ["", "**Issues Found:**", *(f"  - {issue}" for issue in self.analysis_issues)]
        if self.traceback:
            lines += ["", "**Traceback:**", "```", _cut_middle(self.traceback), "```"]
        return "\n".join(lines)


def _cut_middle(text: str, limit: int = TRACEBACK_LIMIT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}{TRUNCATION_MARK}{text[-half:]}"


ErrorChainItem = ExecutionError | str
"""An error chain holds ``ExecutionError`` objects or plain strings; both work everywhere."""


def error_text(item: ErrorChainItem) -> str:
    """The human text of one chain item: ``"Type: message"`` or the string itself."""
    if isinstance(item, str):
        return item
    if item.error_type and not item.error_message.startswith(item.error_type):
        return f"{item.error_type}: {item.error_message}"
    return item.error_message


RESULTS_NAME = "results"


def validate_result_structure(code: str) -> bool:
    """Whether ``code`` visibly builds its ``results`` dict: a static check, nothing runs.

    True when some assignment to the name ``results`` in module scope (also inside
    ``if``/``for``/``while``/``with``/``try`` blocks, not inside a function or class body,
    where ``results`` would be a local) has as its value a dict display (``{...}``), a
    ``dict(...)`` call or a dict comprehension. Counted: plain assignments, chained ones
    (``a = results = {}``), annotated ones with a value (``results: dict = {}``), walrus
    expressions, and tuple or list targets paired element by element with a tuple or list
    value (``results, n = {}, 0``). Not counted: augmented assignments (``results |= {...}``
    updates a ``results`` that must already exist), item assignments (``results["k"] = v``)
    and any other value: a list, a call to another function, a name, a conditional.
    False when there is no such assignment or the code does not parse.

    The service uses it to warn, never to fail: code can build ``results`` in ways no
    static check sees.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(_builds_results(target, value) for target, value in _assignments(tree))


_NEW_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _assignments(tree: ast.Module) -> list[tuple[ast.expr, ast.expr]]:
    """(target, value) of every assignment in module scope (nested blocks included)."""
    found: list[tuple[ast.expr, ast.expr]] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assign):
            found.extend((target, node.value) for target in node.targets)
        elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
            found.append((node.target, node.value))
        stack.extend(
            child for child in ast.iter_child_nodes(node) if not isinstance(child, _NEW_SCOPES)
        )
    return found


def _builds_results(target: ast.expr, value: ast.expr) -> bool:
    pairs = [(target, value)]
    while pairs:
        target, value = pairs.pop()
        if isinstance(target, ast.Name):
            if target.id == RESULTS_NAME and _is_dict_value(value):
                return True
        elif (
            isinstance(target, ast.Tuple | ast.List)
            and isinstance(value, ast.Tuple | ast.List)
            and len(target.elts) == len(value.elts)
            and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))
        ):
            pairs.extend(zip(target.elts, value.elts, strict=True))
    return False


def _is_dict_value(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.DictComp):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "dict"
    )
