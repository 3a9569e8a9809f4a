"""The Ollama API's wire format (``/api/chat``, ``/api/generate``), as far as a jar speaks it.

Streams are NDJSON, one object a line, as Ollama sends them. Tool activity goes
out as extra lines with empty content and a ``brainjar`` field, which the
``ollama`` CLI and library read as empty text.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from brainjar.runtime._events import Answer, Event, StepStarted, TextDelta
from brainjar.runtime._messages import Message, ToolCall

from ._conversation import activity_of
from ._http import Problem

__all__ = [
    "ChatRequest",
    "GenerateRequest",
    "OllamaStream",
    "ShowRequest",
    "error_body",
    "now",
    "parameters_of",
    "reply",
    "to_messages",
]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Function(_Loose):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class _ToolCall(_Loose):
    function: _Function


class ChatMessage(_Loose):
    """One message of the conversation a client sends."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = Field(default=None, max_length=0, description="text only")
    tool_calls: list[_ToolCall] | None = None
    tool_name: str | None = None


class ChatRequest(_Loose):
    """``POST /api/chat``; no messages only loads the model (as Ollama does)."""

    model: str
    messages: list[ChatMessage] = []
    stream: bool = True
    tools: list[dict[str, Any]] | None = None
    options: dict[str, Any] | None = None
    format: Any = None


class GenerateRequest(_Loose):
    """``POST /api/generate``; an empty prompt only loads the model."""

    model: str
    prompt: str = ""
    system: str | None = None
    stream: bool = True
    images: list[str] | None = Field(default=None, max_length=0, description="text only")
    options: dict[str, Any] | None = None
    format: Any = None


class ShowRequest(_Loose):
    """``POST /api/show``: ``model``, or ``name`` as older clients send."""

    model: str | None = None
    name: str | None = None


# The ``options`` a jar honours; the others are ignored (the README lists them).
_OPTIONS = frozenset(
    {"temperature", "top_p", "top_k", "seed", "stop", "presence_penalty", "frequency_penalty"}
)


def parameters_of(options: dict[str, Any] | None, format: Any = None) -> dict[str, Any]:
    """Ollama ``options`` and ``format`` a client may set, as model parameters.

    Raises:
        Problem: 400, a ``format`` that is neither ``"json"`` nor a JSON Schema object.
    """
    options = options or {}
    out = {k: v for k, v in options.items() if k in _OPTIONS and v is not None}
    if isinstance(options.get("num_predict"), int) and options["num_predict"] > 0:
        out["max_tokens"] = options["num_predict"]
    if format == "json":
        out["response_format"] = {"type": "json_object"}
    elif isinstance(format, dict):
        schema = {"name": "answer", "schema": format}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif format not in (None, ""):
        raise Problem(
            400,
            f'format {format!r} is not supported: send "json" or a JSON Schema object, '
            "or leave it out for free text",
        )
    return out


def to_messages(request: ChatRequest) -> list[Message]:
    """The client's messages in brainjar's shape; tool calls and results get paired ids."""
    out: list[Message] = []
    pending: list[str] = []  # ids of calls whose results have not come yet, in order
    for i, m in enumerate(request.messages):
        if m.role == "assistant" and m.tool_calls:
            calls = tuple(
                ToolCall(id=f"call_{i}_{j}", name=c.function.name, arguments=_text(c.function))
                for j, c in enumerate(m.tool_calls)
            )
            pending = [c.id for c in calls]
            out.append(Message(role="assistant", content=m.content, tool_calls=calls))
        elif m.role == "tool":
            call_id = pending.pop(0) if pending else None
            out.append(
                Message(role="tool", content=m.content, tool_call_id=call_id, name=m.tool_name)
            )
        else:
            out.append(Message(role=m.role, content=m.content))
    return out


def _text(function: _Function) -> str:
    args = function.arguments
    return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


def error_body(problem: Problem) -> dict[str, Any]:
    """Ollama's error layout."""
    return {"error": problem.message}


def now() -> str:
    """A timestamp as Ollama writes it (RFC 3339, UTC)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _done_reason(answer: Answer) -> str:
    """``stop``; ``length`` for an answer cut off at num_predict, or at max_steps."""
    return "stop" if answer.stop_reason == "answer" else "length"


def _counts(answer: Answer, *, seconds: float) -> dict[str, int]:
    """The final line's token counts and durations (ns) over all the model's calls.

    ``total_duration`` is the whole conversation, tool calls included; nothing is
    loaded per request, so ``load_duration`` is 0.
    """
    usage = answer.usage
    return {
        "total_duration": int(seconds * 1e9),
        "load_duration": 0,
        "prompt_eval_count": usage.prompt_tokens,
        "prompt_eval_duration": int(usage.prompt_seconds * 1e9),
        "eval_count": usage.completion_tokens,
        "eval_duration": int(usage.completion_seconds * 1e9),
    }


def _piece(kind: Literal["chat", "generate"], text: str) -> dict[str, Any]:
    if kind == "chat":
        return {"message": {"role": "assistant", "content": text}}
    return {"response": text}


def reply(
    kind: Literal["chat", "generate"],
    model: str,
    answer: Answer | None,
    *,
    activity: list[dict[str, Any]] | None = None,
    began: float,
) -> dict[str, Any]:
    """A whole reply (or, without an answer, the reply to a load-only request)."""
    body: dict[str, Any] = {
        "model": model,
        "created_at": now(),
        **_piece(kind, answer.text if answer else ""),
        "done": True,
        "done_reason": _done_reason(answer) if answer else "load",
        "total_duration": int((time.perf_counter() - began) * 1e9),
    }
    if answer is not None:
        body.update(_counts(answer, seconds=time.perf_counter() - began))
        body["brainjar"] = {"steps": answer.steps, "stop_reason": answer.stop_reason}
        if activity is not None:
            body["brainjar"]["activity"] = activity
    return body


class OllamaStream:
    """Ollama's NDJSON stream for ``/api/chat`` or ``/api/generate``.

    The text lines are the loop's text deltas, which join to the answer's text;
    the last line has ``done: true``, the counts and the durations.
    """

    media_type = "application/x-ndjson"

    def __init__(self, kind: Literal["chat", "generate"], model: str) -> None:
        self.kind = kind
        self.model = model
        self._began = time.perf_counter()
        self._streamed = ""  # the text sent so far

    def _line(self, body: dict[str, Any]) -> bytes:
        return json.dumps(body, ensure_ascii=False).encode() + b"\n"

    def _partial(self, text: str, **extra: Any) -> bytes:
        body = {"model": self.model, "created_at": now(), **_piece(self.kind, text), "done": False}
        return self._line({**body, **extra})

    def head(self) -> bytes:
        return b""

    def event(self, event: Event) -> bytes:
        if isinstance(event, TextDelta):
            self._streamed += event.text
            return self._partial(event.text)
        if isinstance(event, StepStarted):
            return b""
        if (record := activity_of(event)) is not None:
            return self._partial("", brainjar=record)
        if not isinstance(event, Answer):
            return b""
        out = b""
        text, streamed = event.text, self._streamed
        if len(text) > len(streamed) and text.startswith(streamed):  # not all of it streamed
            out += self._partial(text[len(streamed) :])
        final = reply(self.kind, self.model, event, began=self._began)
        final.update(_piece(self.kind, ""))
        return out + self._line(final)

    def failure(self, problem: Problem) -> bytes:
        return self._line(error_body(problem))
