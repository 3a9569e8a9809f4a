"""What both model-client test files share: a user turn, a tool, and one model turn read whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brainjar import Message, ModelClient, ToolSpec
from brainjar.runtime._messages import ModelResponse, ModelTextDelta

USER = [Message(role="user", content="What is 1 + 2?")]
ADD = ToolSpec(
    name="add",
    description="Adds two numbers.",
    parameters={"type": "object", "properties": {"a": {"type": "number"}}},
)


async def turn(
    client: ModelClient,
    messages: Sequence[Message] = USER,
    *,
    tools: Sequence[ToolSpec] = (ADD,),
    parameters: Mapping[str, Any] | None = None,
) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    responses: list[ModelResponse] = []
    async for item in client.stream(messages, tools=tools, parameters=parameters or {}):
        if isinstance(item, ModelTextDelta):
            assert not responses, "a delta after the response"
            deltas.append(item.text)
        else:
            responses.append(item)
    assert len(responses) == 1
    return deltas, responses[0]
