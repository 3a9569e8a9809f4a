"""Dependable tool calls from small llama.cpp models: a ModelClient wrapper.

llama-cpp-python's ``chatml-function-calling`` handler hides the tools unless a
tool is forced, drops tool results, escapes quotes and cannot stream a choice
(issue 15). This wrapper does not use it: the server runs the GGUF's own chat
template, the tools and the reply format go into the system prompt, no
``tools`` field is sent, and in ``constrained`` mode the reply is held to a JSON
schema built from the offered tools (llama-cpp-python's
``response_format: {"type": "json_object", "schema": ...}``, which it compiles
to a grammar). The reply is parsed back into tool calls or an answer, whose
text is streamed as it is decoded.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, Literal

from brainjar._errors import ModelError
from brainjar.protocols import ModelClient
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta, ToolSpec

from ._answer_stream import AnswerStreamer
from ._toolschema import (
    ANSWER_SCHEMA,
    answer_now,
    history_messages,
    parse_reply,
    repeated_calls,
    reply_schema,
    reply_text,
)

__all__ = ["ConstrainedClient", "ToolCallMode"]

ToolCallMode = Literal["constrained", "prompt"]


class ConstrainedClient:
    """Wraps a client of a llama.cpp server so that tool calls go through the prompt.

    Args:
        inner: the client of the server (started without ``--chat_format``).
        mode: ``constrained`` holds the reply to the tools' JSON schema;
            ``prompt`` only asks for the format in the prompt.
    """

    def __init__(self, inner: ModelClient, *, mode: ToolCallMode = "constrained") -> None:
        self.inner = inner
        self.mode = mode

    def __repr__(self) -> str:
        return f"ConstrainedClient({self.inner!r}, mode={self.mode!r})"

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """Asks for one turn; yields the answer's text as it comes, then the response.

        Raises:
            ModelError: the server failed, or the reply was cut off in a tool call.
        """
        choice = str(parameters.get("tool_choice", "auto"))
        rest = {k: v for k, v in parameters.items() if k not in ("tool_choice",)}
        if not tools or choice == "none":
            async with aclosing(self.inner.stream(messages, tools=(), parameters=rest)) as plain:
                async for chunk in plain:
                    yield chunk
            return
        if choice not in ("auto", "required") and choice not in {t.name for t in tools}:
            names = ", ".join(t.name for t in tools)
            raise ModelError(
                f"tool_choice names {choice!r}, which is not among the offered tools "
                f"({names}); set spec.loop.tool_choice to auto, required or one of those"
            )
        if self.mode == "constrained":
            rest["response_format"] = {
                "type": "json_object",
                "schema": reply_schema(tools, choice=choice),
            }
        shown = history_messages(messages, tools, choice=choice)
        streamer = AnswerStreamer()
        response: ModelResponse | None = None
        async for chunk in self._ask(shown, rest, streamer):
            if isinstance(chunk, ModelTextDelta):
                yield chunk
            else:
                response = chunk
        assert response is not None
        if choice == "auto" and repeated_calls(messages, response.message.tool_calls):
            # The same call again adds nothing: ask for the answer it was meant to lead to.
            again = [*shown, Message(role="assistant", content=reply_text(response.message))]
            again.append(Message(role="user", content=answer_now(messages)))
            if self.mode == "constrained":
                rest["response_format"] = {"type": "json_object", "schema": ANSWER_SCHEMA}
            streamer = AnswerStreamer()
            async for chunk in self._ask(again, rest, streamer):
                if isinstance(chunk, ModelTextDelta):
                    yield chunk
                else:
                    response = chunk
        yield response

    async def _ask(
        self, shown: Sequence[Message], parameters: Mapping[str, Any], streamer: AnswerStreamer
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """One request: the answer's text as it comes, then the parsed response."""
        response: ModelResponse | None = None
        async with aclosing(self.inner.stream(shown, tools=(), parameters=parameters)) as chunks:
            async for chunk in chunks:
                if isinstance(chunk, ModelTextDelta):
                    text = streamer.feed(chunk.text)
                    if text:
                        yield ModelTextDelta(text=text)
                else:
                    response = chunk
        if response is None:  # pragma: no cover - the inner client's contract
            raise ModelError("the model client ended its stream without a response")
        raw = response.message.content or streamer.text
        yield self._response(raw, response, streamer=streamer)

    def _response(
        self, raw: str, response: ModelResponse, *, streamer: AnswerStreamer
    ) -> ModelResponse:
        parsed = parse_reply(raw)
        if parsed is None:
            if streamer.emitted or '"answer"' in raw[:20]:
                # An answer cut off by max_tokens: keep what was said.
                message = Message(role="assistant", content=streamer.emitted)
                return ModelResponse(
                    message=message, finish_reason=response.finish_reason, usage=response.usage
                )
            raise ModelError(
                f"the model's tool call was cut off ({response.finish_reason or 'no reason'}) "
                f"before it was whole: {raw[:200]!r}; raise spec.model.parameters.max_tokens"
            )
        if parsed.tool_calls:
            message = Message(role="assistant", content="", tool_calls=parsed.tool_calls)
            return ModelResponse(message=message, finish_reason="tool_calls", usage=response.usage)
        message = Message(role="assistant", content=parsed.answer)
        return ModelResponse(
            message=message, finish_reason=response.finish_reason, usage=response.usage
        )

    async def aclose(self) -> None:
        """Closes the inner client."""
        await self.inner.aclose()
