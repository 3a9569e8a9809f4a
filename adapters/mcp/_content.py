"""From an MCP ``tools/call`` result to what the model reads, and back.

The model reads text. Text parts are joined with newlines; structured content
becomes ``ToolResult.data`` (and its JSON is the text when there is no text);
images and audio become a short placeholder that names their type and size;
an embedded resource gives its text, or a placeholder when it is binary; a
resource link gives its URI. The whole result also rides along, unchanged, as
``ToolResult.raw``: an MCP client of the gateway gets every block as the
upstream server sent it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import mcp_types as types

from brainjar.tools._tool import Tool, ToolCallable, ToolResult

__all__ = ["from_listed_tool", "from_tool_result", "to_tool_result"]

# What the model reads when a failed call gave no text.
NO_MESSAGE = "the tool failed and gave no message"


def from_listed_tool(listed: types.Tool, *, call: ToolCallable, source: str) -> Tool:
    """An MCP server's tool as a brainjar tool; every field it listed rides along as ``raw``."""
    return Tool(
        name=listed.name,
        description=listed.description or listed.title or listed.name,
        parameters=dict(listed.input_schema or {"type": "object", "properties": {}}),
        call=call,
        source=source,
        raw=listed.model_dump(by_alias=True, mode="json", exclude_none=True),
    )


def to_tool_result(result: types.CallToolResult) -> ToolResult:
    """What the model reads of an MCP tool's result."""
    parts = [_part_text(block) for block in result.content]
    text = "\n".join(p for p in parts if p)
    data = result.structured_content
    if not text and data is not None:
        text = json.dumps(data, ensure_ascii=False, default=str)
    raw = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if result.is_error:
        return ToolResult(content=text or NO_MESSAGE, is_error=True, data=data, raw=raw)
    return ToolResult(content=text, data=data, raw=raw)


def from_tool_result(result: ToolResult) -> types.CallToolResult:
    """A brainjar tool's result as an MCP ``tools/call`` result: the MCP result it
    came from, unchanged, when there is one; else its text and structured content."""
    if result.raw is not None:
        try:
            return types.CallToolResult.model_validate(result.raw)
        except ValueError:
            pass  # not an MCP result after all (another source's raw form)
    structured: dict[str, Any] | None = None
    if isinstance(result.data, dict):
        structured = result.data
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result.content)],
        structured_content=structured,
        is_error=result.is_error,
    )


def _part_text(block: types.ContentBlock) -> str:
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        return f"[{block.type} {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        mime = resource.mime_type or "application/octet-stream"
        return f"[resource {resource.uri} {mime}, {_decoded_size(resource.blob)} bytes]"
    if isinstance(block, types.ResourceLink):
        return f"[resource link {block.uri}" + (f" ({block.name})]" if block.name else "]")
    return f"[{getattr(block, 'type', 'unknown')} content]"  # pragma: no cover - future kinds


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)
