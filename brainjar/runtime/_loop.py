"""The tool-calling loop.

messages -> model (with tool schemas) -> tool calls, run in one task group, each
under its timeout -> results back as tool messages -> again, until an answer or
``max_steps``. Whatever goes wrong with a tool call is a tool message the model
reads; only the model failing ends the conversation with an error.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import anyio

from brainjar._errors import ToolError
from brainjar.protocols import ModelClient
from brainjar.tools import Tool, ToolPolicy, apply_policy
from brainjar.tools._clash import Clash

from ._events import (
    Answer,
    Event,
    FailureKind,
    StepStarted,
    StopReason,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
    ToolClash,
    event_to_dict,
)
from ._messages import Message, ModelResponse, ModelTextDelta, ToolCall, Usage
from ._said import Said
from ._transcript import Transcript

__all__ = ["LoopSettings", "run_conversation"]

Emit = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class LoopSettings:
    """How one conversation runs; the manifest's ``spec.loop`` and model parameters."""

    max_steps: int = 8
    tool_timeout: float = 30.0
    max_result: int = 1024 * 1024
    parallel_tool_calls: bool = True
    tool_choice: str = "auto"
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answer_format(self) -> Mapping[str, Any] | None:
        """The ``response_format`` the final answer must follow, or None for free text."""
        given = self.parameters.get("response_format")
        if isinstance(given, Mapping) and given.get("type", "text") != "text":
            return given
        return None

    def step_parameters(self, *, called_tools: bool, formatted: bool = False) -> Mapping[str, Any]:
        """The model parameters of one step.

        ``tool_choice`` holds until a tool was called; ``response_format`` goes only
        to the step that asks for the formatted answer (``formatted``), never to one
        that may call tools: a backend that constrains its output to the format
        could not call them.
        """
        out = {k: v for k, v in self.parameters.items() if k != "response_format"}
        if formatted:
            out["response_format"] = self.parameters["response_format"]
        elif not called_tools and self.tool_choice != "auto":
            out["tool_choice"] = self.tool_choice
        return out

    @property
    def policy(self) -> ToolPolicy:
        """The limits every tool call of the conversation runs under."""
        return ToolPolicy(timeout=self.tool_timeout, max_result_bytes=self.max_result)


async def run_conversation(
    client: ModelClient,
    tools: Callable[[], Sequence[Tool]],
    messages: list[Message],
    *,
    settings: LoopSettings,
    emit: Emit,
    transcript: Transcript | None = None,
    clashes: Callable[[], Sequence[Clash]] | None = None,
) -> Answer:
    """Runs the loop until the model answers or ``max_steps`` is reached.

    The answer is what every step said, steps separated by a blank line. With a
    ``response_format`` in the parameters, the steps that may call tools are asked
    without it and say nothing to the client; once the model answers without a
    tool call, that draft is set aside and the model is asked once more, with no
    tools and the format, and that reply alone is the answer (one more step,
    which may go past ``max_steps``).

    Args:
        client: the model.
        tools: called before each step for the tools offered now.
        messages: the conversation so far; the loop appends to it.
        settings: limits and parameters.
        emit: receives every event as it happens.
        transcript: where each message and tool call is written as it happens.
        clashes: called with ``tools`` for the name clashes between tool sources;
            each is emitted once, as a ``ToolClash``, at the step it is first seen.

    Raises:
        ModelError: the model server failed; the transcript records it.
    """
    record = transcript.write if transcript is not None else (lambda _r: None)
    for message in messages:
        record({"type": "message", **message.to_dict()})
    said = Said()
    usage = Usage()
    finish: str | None = None
    answer_format = settings.answer_format
    formatting = False  # the model is done with tools: ask for the answer in the format
    called_tools = False
    step = 0
    warned: set[Clash] = set()
    while True:
        step += 1
        offered = {} if formatting else {t.name: t for t in tools()}
        for clash in clashes() if clashes is not None else ():
            if clash not in warned:
                warned.add(clash)
                await emit(ToolClash(**dataclasses.asdict(clash)))
        formatted = answer_format is not None and not offered
        await emit(StepStarted(step=step, tools=len(offered)))
        response = await _ask(
            client,
            messages,
            offered,
            parameters=settings.step_parameters(called_tools=called_tools, formatted=formatted),
            emit=emit,
            said=said if answer_format is None or formatted else None,
        )
        usage += response.usage
        finish = response.finish_reason
        reply = response.message
        detail = {"finish_reason": finish, "usage": dataclasses.asdict(response.usage)}
        if answer_format is not None and not formatted and not reply.tool_calls:
            record({"type": "draft_answer", **reply.to_dict(), **detail})
            formatting = True
            continue
        messages.append(reply)
        record({"type": "message", **reply.to_dict(), **detail})
        if not reply.tool_calls:
            reason: StopReason = "length" if finish == "length" else "answer"
            break
        called_tools = True
        results = await _run_calls(
            reply.tool_calls, offered, settings=settings, emit=emit, record=record
        )
        messages.extend(results)
        if step >= settings.max_steps:
            reason = "max_steps"
            break
    path = str(transcript.path) if transcript is not None else None
    answer = Answer(
        text=said.text,
        steps=step,
        stop_reason=reason,
        finish_reason=finish,
        usage=usage,
        transcript=path,
    )
    record(event_to_dict(answer))
    await emit(answer)
    return answer


async def _ask(
    client: ModelClient,
    messages: Sequence[Message],
    offered: Mapping[str, Tool],
    *,
    parameters: Mapping[str, Any],
    emit: Emit,
    said: Said | None,
) -> ModelResponse:
    """Asks the model for one step; its text streams through ``said`` (None: silent)."""
    response: ModelResponse | None = None
    if said is not None:
        said.start_step()
    stream = client.stream(
        messages, tools=[t.spec for t in offered.values()], parameters=parameters
    )
    # Closed however the step ends (cancelled too), so the client's HTTP response goes back.
    async with aclosing(stream) as chunks:
        async for chunk in chunks:
            if isinstance(chunk, ModelTextDelta):
                if said is not None and (text := said.delta(chunk.text)):
                    await emit(TextDelta(text=text))
            else:
                response = chunk
    assert response is not None, "a ModelClient must end its stream with a ModelResponse"
    if said is not None and (text := said.end_step(response.message.content)):
        await emit(TextDelta(text=text))
    return response


async def _run_calls(
    calls: Sequence[ToolCall],
    offered: Mapping[str, Tool],
    *,
    settings: LoopSettings,
    emit: Emit,
    record: Callable[[dict[str, Any]], None],
) -> list[Message]:
    results: list[Message | None] = [None] * len(calls)

    async def one(index: int, call: ToolCall) -> None:
        content = await _run_call(call, offered, settings=settings, emit=emit, record=record)
        results[index] = Message(role="tool", content=content, tool_call_id=call.id, name=call.name)

    if settings.parallel_tool_calls and len(calls) > 1:
        async with anyio.create_task_group() as tg:
            for i, call in enumerate(calls):
                tg.start_soon(one, i, call)
    else:
        for i, call in enumerate(calls):
            await one(i, call)
    messages = [m for m in results if m is not None]
    for m in messages:
        record({"type": "message", **m.to_dict()})
    return messages


async def _run_call(
    call: ToolCall,
    offered: Mapping[str, Tool],
    *,
    settings: LoopSettings,
    emit: Emit,
    record: Callable[[dict[str, Any]], None],
) -> str:
    """Runs one call; returns what the model reads, whatever happened."""
    started = ToolCallStarted(call_id=call.id, name=call.name, arguments=call.arguments)
    record(event_to_dict(started))
    await emit(started)
    began = time.perf_counter()

    async def failed(kind: FailureKind, error: str) -> str:
        event = ToolCallFailed(
            call_id=call.id,
            name=call.name,
            error=error,
            kind=kind,
            seconds=time.perf_counter() - began,
        )
        record(event_to_dict(event))
        await emit(event)
        return error

    tool = offered.get(call.name)
    if tool is None:
        names = ", ".join(sorted(offered)) or "none"
        return await failed(
            "unknown_tool", f"error: there is no tool named {call.name!r}; the tools are: {names}"
        )
    try:
        arguments = call.parsed_arguments()
    except ValueError as exc:
        return await failed(
            "malformed_arguments",
            f"error: the arguments for {call.name} are not a JSON object ({exc}); "
            f"send a JSON object that matches the tool's schema",
        )
    try:
        result = await apply_policy(tool, settings.policy).call(arguments)
    except anyio.get_cancelled_exc_class():
        # The conversation itself was cancelled: record it, then let it go on up.
        record(
            {
                "type": "tool_call_failed",
                "call_id": call.id,
                "name": call.name,
                "error": "cancelled",
                "kind": "cancelled",
            }
        )
        raise
    except ToolError as exc:
        return await failed(_kind(exc), f"error: {exc}")
    if result.is_error:
        text = result.content
        return await failed("error", text if text.startswith("error:") else f"error: {text}")
    finished = ToolCallFinished(
        call_id=call.id, name=call.name, content=result.content, seconds=time.perf_counter() - began
    )
    # The content is stored once, in the tool message that follows; here its size.
    record({**event_to_dict(finished), "content": None, "bytes": len(result.content.encode())})
    await emit(finished)
    return result.content


def _kind(exc: ToolError) -> FailureKind:
    kind = exc.kind
    if kind in ("timeout", "bad_arguments", "too_large"):
        return kind  # type: ignore[return-value]
    return "error"
