"""The ``--requests FILE.yaml`` of ``replaycodegen record``: several requests to record.

Either a list of requests or a mapping with a ``requests:`` list; each request is a
mapping of ``PythonExecutionRequest`` fields (``user_query`` at least; ``task_objective``
defaults to the query, ``execution_folder_name`` to ``record-<n>``)::

    requests:
      - user_query: Average beam current
        task_objective: Read BEAM:CURRENT and return it in results
        expected_results: {beam_current: float}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from replaycodegen.cli.errors import UserError

if TYPE_CHECKING:
    from replaycodegen.models import PythonExecutionRequest


def with_default_objective(fields: dict[str, Any]) -> dict[str, Any]:
    """The one rule of ``record``, ``run`` and ``--requests`` files: a request without a
    ``task_objective`` takes its ``user_query`` as objective, so what was recorded from a
    query alone replays from that query alone."""
    if fields.get("task_objective") is None and isinstance(fields.get("user_query"), str):
        return {**fields, "task_objective": fields["user_query"]}
    return fields


def request_from_options(query: str, objective: str | None) -> dict[str, Any]:
    """The request fields of ``--query Q [--objective O]``: nothing else, objective Q."""
    return with_default_objective({"user_query": query, "task_objective": objective})


def read_requests(path: str) -> list[PythonExecutionRequest]:
    """Parse and validate the file; any problem is a ``UserError`` naming file and line."""
    import yaml
    from pydantic import ValidationError

    from replaycodegen.cassette import yamlio
    from replaycodegen.cassette.loading import compose
    from replaycodegen.cassette.loading.loader import read_text
    from replaycodegen.models import PythonExecutionRequest

    text = read_text(path)
    try:
        data = compose.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}{where}: invalid YAML: {problem}; fix: correct the YAML syntax"
                        ) from None
    prefix: list[str | int] = []
    if isinstance(data, dict) and set(data) == {"requests"}:
        data, prefix = data["requests"], ["requests"]
    if not isinstance(data, list) or not data:
        raise UserError(f"{path}:1: expected a non-empty list of requests (or `requests:` "
                        "holding one); fix: see `replaycodegen record --help`")
    requests = []
    for index, item in enumerate(data):
        line = yamlio.line_of(text, [*prefix, index]) or 1
        if not isinstance(item, dict):
            raise UserError(f"{path}:{line}: request {index + 1} must be a mapping of request "
                            "fields; fix: give user_query (and task_objective)")
        fields = with_default_objective({"execution_folder_name": f"record-{index + 1}", **item})
        unknown = sorted(set(item) - set(PythonExecutionRequest.model_fields))
        if unknown:
            raise UserError(f"{path}:{line}: request {index + 1}: unknown "
                            f"{'field' if len(unknown) == 1 else 'fields'} "
                            f"{', '.join(map(str, unknown))}; fix: use "
                            f"{', '.join(PythonExecutionRequest.model_fields)}")
        try:
            requests.append(PythonExecutionRequest(**fields))
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = ".".join(str(p) for p in problem["loc"])
            at = yamlio.line_of(text, [*prefix, index, str(problem["loc"][0])]) or line
            raise UserError(f"{path}:{at}: request {index + 1}: {name}: {problem['msg']}; "
                            "fix: correct that field") from None
    return requests


def read_request_json(text: str) -> PythonExecutionRequest:
    """``--request JSON``: one request; ``execution_folder_name`` defaults to ``record-1``,
    ``task_objective`` to the query (as everywhere)."""
    import json

    from pydantic import ValidationError

    from replaycodegen.models import PythonExecutionRequest

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--request: not JSON ({exc.msg} at character {exc.pos + 1}); fix: "
                        'give an object such as \'{"user_query": "...", "task_objective": '
                        '"..."}\'') from None
    if not isinstance(data, dict):
        raise UserError("--request: expected a JSON object of request fields; fix: give "
                        "user_query and task_objective at least")
    unknown = sorted(set(data) - set(PythonExecutionRequest.model_fields))
    if unknown:
        raise UserError(f"--request: unknown field(s) {', '.join(unknown)}; fix: use "
                        f"{', '.join(PythonExecutionRequest.model_fields)}")
    try:
        return PythonExecutionRequest(
            **with_default_objective({"execution_folder_name": "record-1", **data}))
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = ".".join(str(p) for p in problem["loc"])
        raise UserError(f"--request: {name}: {problem['msg']}; fix: correct that field"
                        ) from None
