"""The OpenAI Chat Completions wire format, as far as a jar speaks it.

Requests are validated with pydantic; fields OpenAI defines that a jar has no
use for (``user``, ``logprobs``, ``metadata``...) are accepted and ignored, so
every client that talks to OpenAI talks to a jar.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from brainjar.runtime._events import (
    Answer,
    Event,
    StepStarted,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from brainjar.runtime._messages import Message

from ._conversation import activity_of
from ._http import Problem

__all__ = ["ChatRequest", "OpenAIStream", "completion", "error_body", "to_messages"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextPart(_Loose):
    """A text part of a message's content; a jar's model reads text only."""

    type: Literal["text"]
    text: str


class FunctionCall(_Loose):
    name: str
    arguments: str = ""


class ToolCallIn(_Loose):
    id: str = ""
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Loose):
    """One message of the conversation a client sends."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class StreamOptions(_Loose):
    include_usage: bool = False


class ChatRequest(_Loose):
    """``POST /v1/chat/completions``."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    n: int | None = Field(default=None, ge=1, le=1, description="a jar gives one answer")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None

    def parameters(self) -> dict[str, Any]:
        """The model parameters a client may set for its conversation."""
        given = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": self.stop,
            "seed": self.seed,
        }
        return {k: v for k, v in given.items() if v is not None}


def to_messages(request: ChatRequest) -> list[Message]:
    """The client's messages in brainjar's shape (``developer`` is a system message)."""
    out = []
    for m in request.messages:
        data = m.model_dump(exclude_none=True)
        if m.role == "developer":
            data["role"] = "system"
        out.append(Message.from_dict(data))
    return out


def error_body(problem: Problem) -> dict[str, Any]:
    """OpenAI's error layout."""
    return {
        "error": {
            "message": problem.message,
            "type": problem.kind,
            "param": problem.param,
            "code": problem.code,
        }
    }


def _finish_reason(answer: Answer) -> str:
    return "stop" if answer.stop_reason == "answer" else "length"


def _summary(answer: Answer) -> dict[str, Any]:
    return {"steps": answer.steps, "stop_reason": answer.stop_reason}


def completion(model: str, answer: Answer, activity: list[dict[str, Any]]) -> dict[str, Any]:
    """A whole ``chat.completion``; the tool activity is in the extra ``brainjar`` field."""
    return {
        "id": _new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text, "refusal": None},
                "logprobs": None,
                "finish_reason": _finish_reason(answer),
            }
        ],
        "brainjar": {**_summary(answer), "activity": activity},
    }


class OpenAIStream:
    """``chat.completion.chunk`` server-sent events.

    The answer streams as ``delta.content``. Tool activity goes out as SSE comment
    lines (``: brainjar {...}``) that every SSE client skips, and, when the client
    asked with ``x-brainjar-activity: chunks``, also as chunks with no choices and
    a ``brainjar`` field.
    """

    media_type = "text/event-stream; charset=utf-8"

    def __init__(self, model: str, *, activity_chunks: bool = False) -> None:
        self.model = model
        self.activity_chunks = activity_chunks
        self._id = _new_id()
        self._created = int(time.time())
        self._said = False  # some text went out already
        self._step_text = ""

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": choices,
            **extra,
        }
        return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"

    def _text(self, text: str) -> bytes:
        sent = text
        if not self._step_text and self._said:
            sent = "\n\n" + text  # text of an earlier step (said along with tool calls) came first
        self._step_text += text
        self._said = True
        return self._chunk([{"index": 0, "delta": {"content": sent}, "finish_reason": None}])

    def head(self) -> bytes:
        delta = {"role": "assistant", "content": ""}
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])

    def event(self, event: Event) -> bytes:
        if isinstance(event, StepStarted):
            self._step_text = ""
            return b""
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ToolCallStarted | ToolCallFinished | ToolCallFailed):
            record = activity_of(event)
            out = b": brainjar " + json.dumps(record, ensure_ascii=False).encode() + b"\n\n"
            if self.activity_chunks:
                out += self._chunk([], brainjar=record)
            return out
        assert isinstance(event, Answer)
        out = b""
        # A model client that does not stream text gives it only in the answer.
        text, streamed = event.text, self._step_text
        if text and text != streamed:
            out += self._text(text[len(streamed) :] if text.startswith(streamed) else text)
        finish = {"index": 0, "delta": {}, "finish_reason": _finish_reason(event)}
        out += self._chunk([finish], brainjar=_summary(event))
        return out + b"data: [DONE]\n\n"

    def failure(self, problem: Problem) -> bytes:
        return b"data: " + json.dumps(error_body(problem), ensure_ascii=False).encode() + b"\n\n"


def _new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]
