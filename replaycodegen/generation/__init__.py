"""Code generators: the protocol, the cassette-backed mock, the recorder and the OpenAI one.

Names are resolved lazily (PEP 562): ``from replaycodegen.generation import
MockCodeGenerator`` imports the mock and the cassette loader only, never the recorder, the
store, filelock or the OpenAI generator, so a replay starts fast.

``create_code_generator`` is looked up here at call time by the executor service, so
``patch('replaycodegen.generation.create_code_generator', return_value=gen)`` works: the
patch puts the mock in this module's namespace, which the service reads on every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from replaycodegen._lazy import lazy_exports

if TYPE_CHECKING:
    from replaycodegen.generation.factory import create_code_generator
    from replaycodegen.generation.mock import MockCodeGenerator
    from replaycodegen.generation.openai_generator import OpenAICodeGenerator
    from replaycodegen.generation.protocol import CodeGenerator
    from replaycodegen.generation.recording import RecordingCodeGenerator

_EXPORTS: dict[str, str] = {
    "CodeGenerator": "replaycodegen.generation.protocol",
    "MockCodeGenerator": "replaycodegen.generation.mock",
    "OpenAICodeGenerator": "replaycodegen.generation.openai_generator",
    "RecordingCodeGenerator": "replaycodegen.generation.recording",
    "create_code_generator": "replaycodegen.generation.factory",
}

__all__ = [
    "CodeGenerator",
    "MockCodeGenerator",
    "OpenAICodeGenerator",
    "RecordingCodeGenerator",
    "create_code_generator",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
