"""The OpenAI Chat Completions wire format, as far as a jar speaks it.

Requests are validated with pydantic; fields OpenAI defines that a jar has no
use for (``user``, ``logprobs``, ``metadata``...) are accepted and ignored, so
every client that talks to OpenAI talks to a jar. What is honoured, ignored and
refused is listed in the README's endpoint section.
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
    ToolClash,
)
from brainjar.runtime._messages import Message, Usage

from ._conversation import activity_of
from ._http import Problem

__all__ = [
    "ChatRequest",
    "OpenAIStream",
    "completion",
    "error_body",
    "response_format",
    "to_messages",
    "usage_body",
]


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
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    response_format: dict[str, Any] | None = None

    @property
    def include_usage(self) -> bool:
        """Whether a streamed reply ends with a chunk that carries the usage."""
        return self.stream_options is not None and self.stream_options.include_usage

    def parameters(self) -> dict[str, Any]:
        """The model parameters a client may set for its conversation.

        Raises:
            Problem: 400, a ``response_format`` the jar cannot honour.
        """
        given = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "stop": self.stop,
            "seed": self.seed,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "response_format": response_format(self.response_format),
        }
        return {k: v for k, v in given.items() if v is not None}


def response_format(given: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``response_format`` the final answer follows; None for free text.

    Raises:
        Problem: 400, a type other than ``text``, ``json_object`` and
            ``json_schema``, or a ``json_schema`` without a schema object.
    """
    if given is None:
        return None
    kind = given.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = given.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise Problem(
                400,
                "response_format.json_schema.schema must be a JSON Schema object, e.g. "
                '{"type": "json_schema", "json_schema": {"name": "answer", "schema": '
                '{"type": "object", ...}}}',
                param="response_format",
            )
        keep = {k: spec[k] for k in ("name", "schema", "strict", "description") if k in spec}
        return {"type": "json_schema", "json_schema": keep}
    raise Problem(
        400,
        f"response_format.type {kind!r} is not supported: a jar's answer can follow "
        "'text', 'json_object' or 'json_schema'",
        param="response_format",
    )


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
    """``stop``; ``length`` for an answer cut off at max_tokens, or at max_steps."""
    return "stop" if answer.stop_reason == "answer" else "length"


def _summary(answer: Answer) -> dict[str, Any]:
    return {"steps": answer.steps, "stop_reason": answer.stop_reason}


def usage_body(usage: Usage) -> dict[str, int]:
    """The usage of all the conversation's model calls, in OpenAI's layout."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


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
        "usage": usage_body(answer.usage),
        "brainjar": {**_summary(answer), "activity": activity},
    }


class OpenAIStream:
    """``chat.completion.chunk`` server-sent events.

    The answer streams as ``delta.content``: the loop's text deltas, which join
    to the answer's text. Tool activity goes out as SSE comment lines
    (``: brainjar {...}``) that every SSE client skips, and, when the client asked
    with ``x-brainjar-activity: chunks``, also as chunks with no choices and a
    ``brainjar`` field. With ``include_usage``, every chunk has ``usage: null``
    and a last chunk with no choices carries the usage, as OpenAI sends it.
    """

    media_type = "text/event-stream; charset=utf-8"

    def __init__(
        self, model: str, *, activity_chunks: bool = False, include_usage: bool = False
    ) -> None:
        self.model = model
        self.activity_chunks = activity_chunks
        self.include_usage = include_usage
        self._id = _new_id()
        self._created = int(time.time())
        self._streamed = ""  # the text sent so far

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": choices,
            **({"usage": None} if self.include_usage else {}),
            **extra,
        }
        return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"

    def _text(self, text: str) -> bytes:
        self._streamed += text
        return self._chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None}])

    def head(self) -> bytes:
        delta = {"role": "assistant", "content": ""}
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": None}])

    def event(self, event: Event) -> bytes:
        if isinstance(event, StepStarted | ToolClash):
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
        text, streamed = event.text, self._streamed
        if len(text) > len(streamed) and text.startswith(streamed):  # not all of it streamed
            out += self._text(text[len(streamed) :])
        finish = {"index": 0, "delta": {}, "finish_reason": _finish_reason(event)}
        out += self._chunk([finish], brainjar=_summary(event))
        if self.include_usage:
            out += self._chunk([], usage=usage_body(event.usage))
        return out + b"data: [DONE]\n\n"

    def failure(self, problem: Problem) -> bytes:
        return b"data: " + json.dumps(error_body(problem), ensure_ascii=False).encode() + b"\n\n"


def _new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]
