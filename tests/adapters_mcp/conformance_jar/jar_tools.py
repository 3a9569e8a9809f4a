"""The conformance suite's ``test_*`` tools as a jar's own Python tools (LangChain ``@tool``).

``jar.yaml`` names them (``langchain: jar_tools:tools``); ``brainjar mcp`` serves
them with no upstream MCP server. A tool that wants MCP content blocks (images,
audio, embedded resources) returns a ``brainjar.ToolResult`` whose ``raw`` is
the ``CallToolResult`` to send: MCP clients get it as is, the model reads
``content``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, tool

from brainjar.tools import ToolResult

# A 1x1 red PNG and a minimal WAV (44-byte header, no samples).
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
    b"\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
).decode()
SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def _blocks(text: str, *blocks: dict[str, Any]) -> ToolResult:
    """A result the model reads as ``text`` and MCP clients get as ``blocks``."""
    return ToolResult(content=text, raw={"content": list(blocks), "isError": False})


@tool
def test_simple_text() -> str:
    """Returns a simple text response."""
    return "This is a simple text response for testing."


@tool
def test_image_content() -> ToolResult:
    """Returns an image."""
    return _blocks("[image/png]", {"type": "image", "data": PNG, "mimeType": "image/png"})


@tool
def test_audio_content() -> ToolResult:
    """Returns audio."""
    return _blocks("[audio/wav]", {"type": "audio", "data": WAV, "mimeType": "audio/wav"})


@tool
def test_embedded_resource() -> ToolResult:
    """Returns an embedded resource."""
    resource = {
        "uri": "test://embedded-resource",
        "mimeType": "text/plain",
        "text": "This is an embedded resource content.",
    }
    return _blocks(resource["text"], {"type": "resource", "resource": resource})


@tool
def test_multiple_content_types() -> ToolResult:
    """Returns text, an image and an embedded resource."""
    resource = {
        "uri": "test://mixed-content-resource",
        "mimeType": "application/json",
        "text": json.dumps({"test": "data", "value": 123}),
    }
    return _blocks(
        "Multiple content types test:",
        {"type": "text", "text": "Multiple content types test:"},
        {"type": "image", "data": PNG, "mimeType": "image/png"},
        {"type": "resource", "resource": resource},
    )


@tool
def test_error_handling() -> ToolResult:
    """Always fails."""
    return ToolResult.error("This tool intentionally returns an error for testing")


def _json_schema_tool(**arguments: Any) -> str:
    return json.dumps(arguments)


json_schema_2020_12_tool = StructuredTool.from_function(
    _json_schema_tool,
    name="json_schema_2020_12_tool",
    description="Tool with JSON Schema 2020-12 features",
    args_schema=SCHEMA_2020_12,
)

tools: list[BaseTool] = [
    test_simple_text,
    test_image_content,
    test_audio_content,
    test_embedded_resource,
    test_multiple_content_types,
    test_error_handling,
    json_schema_2020_12_tool,
]
