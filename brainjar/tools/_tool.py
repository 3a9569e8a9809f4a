"""The one shape every tool has, whatever its source."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tool", "ToolCallable", "ToolResult", "ToolSpec"]


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """What the model is told about a tool: name, description, argument schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        """The tool in the OpenAI (and Ollama) ``tools`` layout."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What a tool gave back.

    Attributes:
        content: the text the model reads.
        is_error: the tool failed; the model still reads ``content``.
        data: structured content, where the source offers it (MCP structured
            content, a LangChain artifact); endpoints may pass it on.
        raw: the result as its source gave it, in that protocol's wire form (an
            MCP ``CallToolResult``: images, audio, resources, ``_meta``); an
            endpoint that speaks the same protocol passes it on unchanged, while
            the model reads ``content``.
    """

    content: str
    is_error: bool = False
    data: Any = None
    raw: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def error(cls, message: str) -> ToolResult:
        """A failed call whose message the model reads."""
        return cls(content=message, is_error=True)

    @classmethod
    def of(cls, value: Any) -> ToolResult:
        """Wraps whatever a tool returned: text as is, anything else as JSON."""
        if isinstance(value, ToolResult):
            return value
        if isinstance(value, str):
            return cls(content=value)
        try:
            return cls(content=json.dumps(value, ensure_ascii=False, default=str), data=value)
        except (TypeError, ValueError):
            return cls(content=str(value))


ToolCallable = Callable[[dict[str, Any]], Awaitable[ToolResult]]


@dataclass(frozen=True, kw_only=True)
class Tool:
    """A name, a description, a JSON Schema for its arguments, and an async call.

    ``call`` receives arguments already checked against ``parameters``. It returns
    a ``ToolResult`` (``is_error`` for a failure the model should see) or raises
    ``ToolError``; the loop turns any exception into an error result.

    Attributes:
        source: where the tool lives, for people: ``langchain:pkg.mod:Name``,
            ``mcp:time``, ``grpc:host:port``.
        raw: the tool as its source listed it, in that protocol's wire form (an
            MCP ``Tool``: ``title``, ``outputSchema``, ``annotations``, ...); an
            endpoint that speaks the same protocol keeps those fields.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    call: ToolCallable = field(repr=False, compare=False)
    source: str = ""
    raw: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def spec(self) -> ToolSpec:
        """What the model is told about this tool."""
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)
