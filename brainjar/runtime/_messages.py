"""Chat messages, tool calls and the chunks a model client streams.

These are brainjar's own shapes; each model client translates them to and from
its wire protocol, so the loop never sees a protocol's quirks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from brainjar.tools._tool import ToolSpec

__all__ = [
    "Message",
    "ModelResponse",
    "ModelTextDelta",
    "Role",
    "ToolCall",
    "ToolSpec",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """A model's request to call a tool.

    ``arguments`` is the raw JSON text the model produced: it may be malformed,
    and the loop, not the client, decides what to do about that.
    """

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a JSON object.

        Raises:
            ValueError: the text is not JSON, or not a JSON object.
        """
        text = self.arguments.strip() or "{}"
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        return value


@dataclass(frozen=True, kw_only=True)
class Message:
    """One message of a conversation, in brainjar's own shape."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in the OpenAI Chat Completions layout."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        """Reads a message in the OpenAI Chat Completions layout."""
        content = data.get("content") or ""
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        calls = tuple(
            ToolCall(
                id=str(c.get("id") or f"call_{i}"),
                name=str(c.get("function", {}).get("name", "")),
                arguments=_arguments_text(c.get("function", {}).get("arguments", "")),
            )
            for i, c in enumerate(data.get("tool_calls") or [])
        )
        return cls(
            role=data["role"],
            content=str(content),
            tool_calls=calls,
            tool_call_id=data.get("tool_call_id"),
            name=data.get("name"),
        )


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


@dataclass(frozen=True, kw_only=True)
class Usage:
    """What model calls cost, where the server reports it; ``+`` sums two.

    Attributes:
        prompt_tokens: tokens the model read.
        completion_tokens: tokens the model wrote.
        prompt_seconds: time spent reading the prompt (the server's figure, or the
            time to the first streamed piece).
        completion_seconds: time spent writing (the server's figure, or the time
            from the first streamed piece to the last).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_seconds: float = 0.0
    completion_seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Tokens read and written."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            prompt_seconds=self.prompt_seconds + other.prompt_seconds,
            completion_seconds=self.completion_seconds + other.completion_seconds,
        )


@dataclass(frozen=True, kw_only=True)
class ModelTextDelta:
    """A piece of the answer text, as the model streams it."""

    text: str


@dataclass(frozen=True, kw_only=True)
class ModelResponse:
    """The whole of one model turn: the last item a model client's stream yields."""

    message: Message
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
