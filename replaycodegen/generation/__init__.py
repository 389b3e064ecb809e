"""Code generators: the protocol, the cassette-backed mock, the recorder and the OpenAI one."""

from __future__ import annotations

from replaycodegen.generation.protocol import CodeGenerator

__all__ = ["CodeGenerator"]
