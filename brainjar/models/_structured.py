"""Structured output for OpenAI-compatible servers: the standard ``json_schema`` shape.

``ConstrainedClient`` asks for llama-cpp-python's ``response_format:
{"type": "json_object", "schema": ...}``. vLLM, llama.cpp's ``llama-server``
and OpenAI itself read the standard shape instead, ``{"type": "json_schema",
"json_schema": {"name": ..., "schema": ..., "strict": true}}``; this wrapper
rewrites the one into the other before the inner client sends the request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from brainjar.protocols import ModelClient
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta, ToolSpec

__all__ = ["SCHEMA_NAME", "JsonSchemaClient", "json_schema_format"]

# The name the schema carries in the request (OpenAI requires one).
SCHEMA_NAME = "brainjar_reply"


def json_schema_format(response_format: Any) -> Any:
    """``{"type": "json_object", "schema": S}`` as ``json_schema``; anything else as is."""
    if (
        isinstance(response_format, Mapping)
        and response_format.get("type") == "json_object"
        and isinstance(response_format.get("schema"), Mapping)
    ):
        return {
            "type": "json_schema",
            "json_schema": {
                "name": SCHEMA_NAME,
                "schema": dict(response_format["schema"]),
                "strict": True,
            },
        }
    return response_format


class JsonSchemaClient:
    """Wraps a client of an OpenAI-compatible server that reads ``json_schema``.

    Args:
        inner: the client that sends the request.
    """

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"JsonSchemaClient({self.inner!r})"

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """The inner client's stream, with ``response_format`` in the standard shape."""
        rewritten = dict(parameters)
        if "response_format" in rewritten:
            rewritten["response_format"] = json_schema_format(rewritten["response_format"])
        async with aclosing(
            self.inner.stream(messages, tools=tools, parameters=rewritten)
        ) as chunks:
            async for chunk in chunks:
                yield chunk

    async def aclose(self) -> None:
        """Closes the inner client."""
        await self.inner.aclose()
