"""Code generators: the protocol, the cassette-backed mock, the recorder and the OpenAI one.

``create_code_generator`` is looked up here at call time by the executor service, so
``patch('replaycodegen.generation.create_code_generator', return_value=gen)`` works.
"""

from __future__ import annotations

from replaycodegen.generation.mock import MockCodeGenerator
from replaycodegen.generation.protocol import CodeGenerator

__all__ = ["CodeGenerator", "MockCodeGenerator"]
