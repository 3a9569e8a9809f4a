"""One request, one conversation: run the jar's loop under the endpoint's limits.

``ConversationResponse`` is an ASGI response. It waits for a slot (or refuses
with 429), runs the conversation under ``request_timeout``, and watches the
client: a client that disconnects cancels the loop and its tool calls. Each API
supplies how a reply is laid out, whole or as a stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import anyio
from starlette.types import Receive, Scope, Send

from brainjar._errors import ModelError
from brainjar._redact import redact
from brainjar.runtime._events import (
    Answer,
    Event,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from brainjar.runtime._events import event_to_dict as _event_to_dict
from brainjar.runtime._messages import Message

from ._http import LOG_KEY, RETRY_AFTER, Busy, EndpointState, ErrorLayout, Problem, send_json

__all__ = ["ConversationResponse", "StreamLayout", "WholeLayout", "activity_of"]

log = logging.getLogger("brainjar.endpoints")


class _ShuttingDown(Exception):
    """The endpoint drains: a new conversation is refused (503)."""


ACTIVITY = (ToolCallStarted, ToolCallFinished, ToolCallFailed)


class StreamLayout(Protocol):
    """How an API streams a conversation: bytes for its start, each event, and a failure."""

    media_type: str

    def head(self) -> bytes:
        """What is sent before the first event."""
        ...

    def event(self, event: Event) -> bytes:
        """What one event becomes (``b""``: nothing); the ``Answer`` ends the stream."""
        ...

    def failure(self, problem: Problem) -> bytes:
        """What ends a stream that failed after it began."""
        ...


WholeLayout = Callable[[Answer, list[dict[str, Any]]], dict[str, Any]]
"""An API's whole (non-streamed) reply, from the answer and the tool activity."""


def activity_of(event: Event) -> dict[str, Any] | None:
    """The event as a tool-activity record, or None if it is not tool activity."""
    return _event_to_dict(event) if isinstance(event, ACTIVITY) else None


class ConversationResponse:
    """An ASGI response that runs one conversation of the endpoint's jar.

    Args:
        state: the endpoint.
        messages: the conversation the client sent (the jar adds its system prompt).
        parameters: model parameters for this conversation only.
        errors: the API's error layout.
        stream: the API's stream layout, for a streamed reply.
        whole: the API's whole reply, for a reply in one piece.
    """

    def __init__(
        self,
        state: EndpointState,
        messages: Sequence[Message],
        *,
        parameters: Mapping[str, Any],
        errors: ErrorLayout,
        stream: StreamLayout | None = None,
        whole: WholeLayout | None = None,
    ) -> None:
        assert (stream is None) != (whole is None), "give one of stream and whole"
        self.state = state
        self.messages = list(messages)
        self.parameters = dict(parameters)
        self.errors = errors
        self.stream = stream
        self.whole = whole
        self.record: dict[str, Any] = {}
        self._opened = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.record = scope.setdefault(LOG_KEY, {})
        self.record["stream"] = self.stream is not None
        answered = False

        async def tracked(message: Any) -> None:
            nonlocal answered
            # After the last body message the server reports http.disconnect for every
            # request: only a disconnect before it is the client going away.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch, receive, tg.cancel_scope, lambda: answered)
            await self._respond(tracked)
            tg.cancel_scope.cancel()

    async def _watch(
        self, receive: Receive, scope: anyio.CancelScope, answered: Callable[[], bool]
    ) -> None:
        """Cancels the conversation when the client goes away before its answer."""
        while (await receive())["type"] != "http.disconnect":
            pass
        if not answered():
            self.record["disconnected"] = True
        scope.cancel()

    async def _respond(self, send: Send) -> None:
        problem: Problem | None = None
        timeout = self.state.config.request_timeout
        with anyio.move_on_after(timeout) as timer:
            try:
                if self.state.draining:
                    raise _ShuttingDown
                async with self.state.gate.admit():
                    if self.stream is not None:
                        await self._stream(send, self.stream)
                    else:
                        assert self.whole is not None
                        answer, activity = await self._collect()
                        await send_json(send, 200, self.whole(answer, activity))
            except Busy:
                problem = Problem(
                    429,
                    f"the jar {self.state.jar.name} is busy: {self.state.config.max_concurrency} "
                    f"conversations run and {self.state.config.max_queue} wait; retry later",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            except _ShuttingDown:
                problem = Problem(
                    503,
                    f"the jar {self.state.jar.name} is shutting down: it finishes the "
                    "conversations in flight and takes no new ones; send this one to another "
                    "instance, or retry once it is back",
                    code="shutting_down",
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            except ModelError as exc:
                # What failed, not the model process's log: that stays in the transcript.
                problem = Problem(502, f"the jar's model failed: {exc.summary}", code="model_error")
            except Exception as exc:
                log.exception("the %s endpoint failed a conversation", self.state.kind)
                problem = Problem(500, redact(f"the jar failed: {type(exc).__name__}: {exc}"))
        if timer.cancelled_caught:
            problem = Problem(
                504,
                f"no answer within the endpoint's request_timeout of {timeout:g}s",
                code="timeout",
            )
        if problem is None:
            return
        self.record["error"] = problem.message
        if not self._opened:
            await send_json(send, problem.status, self.errors(problem), headers=problem.headers)
        elif self.stream is not None:
            await _body(send, self.stream.failure(problem), more=False)

    async def _collect(self) -> tuple[Answer, list[dict[str, Any]]]:
        answer: Answer | None = None
        activity: list[dict[str, Any]] = []
        async with self.state.jar.events(self.messages, parameters=self.parameters) as events:
            async for event in events:
                if (record := activity_of(event)) is not None:
                    activity.append(record)
                elif isinstance(event, Answer):
                    answer = event
        assert answer is not None
        self._note(answer)
        return answer, activity

    async def _stream(self, send: Send, layout: StreamLayout) -> None:
        headers = [
            (b"content-type", layout.media_type.encode()),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self._opened = True
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await _body(send, layout.head())
        async with self.state.jar.events(self.messages, parameters=self.parameters) as events:
            async for event in events:
                if isinstance(event, Answer):
                    self._note(event)
                chunk = layout.event(event)
                if chunk:
                    await _body(send, chunk)
        await _body(send, b"", more=False)

    def _note(self, answer: Answer) -> None:
        self.record.update(steps=answer.steps, stop_reason=answer.stop_reason)


async def _body(send: Send, data: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})
