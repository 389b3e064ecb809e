"""Code generators: the protocol, the cassette-backed mock, the recorder and the OpenAI one.

``create_code_generator`` is looked up here at call time by the executor service, so
``patch('replaycodegen.generation.create_code_generator', return_value=gen)`` works.
"""

from __future__ import annotations

from replaycodegen.generation.factory import create_code_generator
from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.openai_generator import OpenAICodeGenerator
from replaycodegen.generation.protocol import CodeGenerator
from replaycodegen.generation.recording import RecordingCodeGenerator

__all__ = [
    "CodeGenerator",
    "MockCodeGenerator",
    "OpenAICodeGenerator",
    "RecordingCodeGenerator",
    "create_code_generator",
]
