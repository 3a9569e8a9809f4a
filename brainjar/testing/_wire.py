"""What a step looks like on the wire: OpenAI Chat Completions and Ollama ``/api/chat``.

The layouts mirror what the real servers send, closely enough that the official
``openai`` and ``ollama`` SDKs parse them. Token counts are word counts: a
scripted model has no tokenizer.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ._script import CallTools, Reply, ScriptedRequest

__all__ = [
    "ollama_chunks",
    "ollama_error",
    "ollama_response",
    "openai_chunks",
    "openai_completion",
    "openai_error",
    "split_text",
]

Answer = Reply | CallTools


def split_text(text: str, chunks: int | None) -> list[str]:
    """Splits ``text`` into deltas that join back to it: one per word, or ``chunks``."""
    if not text:
        return []
    if chunks is None:
        return re.findall(r"\s+|\S+\s*", text)
    size = math.ceil(len(text) / max(1, min(chunks, len(text))))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _text(step: Answer) -> str:
    return step.text


def _chunks(step: Answer) -> int | None:
    return step.chunks if isinstance(step, Reply) else None


def _words(text: str) -> int:
    return len(text.split())


def _finish(step: Answer) -> str:
    return "tool_calls" if isinstance(step, CallTools) else step.finish_reason


def _usage(step: Answer, request: ScriptedRequest) -> tuple[int, int]:
    if step.usage is not None:
        return step.usage
    prompt = sum(_words(str(m.get("content") or "")) for m in request.messages)
    completion = _words(_text(step))
    if isinstance(step, CallTools):
        completion += sum(1 + _words(c.arguments_text()) for c in step.calls)
    return prompt, max(completion, 1)


# --- OpenAI --------------------------------------------------------------------------


def _call_id(request: ScriptedRequest, index: int, given: str | None) -> str | None:
    if given is None:
        return f"call_{request.step}_{index}"
    return given or None


def _openai_calls(step: CallTools, request: ScriptedRequest) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(step.calls):
        item: dict[str, Any] = {
            "type": "function",
            "function": {"name": c.name, "arguments": c.arguments_text()},
        }
        call_id = _call_id(request, i, c.id)
        if call_id is not None:
            item["id"] = call_id
        out.append(item)
    return out


def _openai_usage(step: Answer, request: ScriptedRequest) -> dict[str, int]:
    prompt, completion = _usage(step, request)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def openai_completion(step: Answer, request: ScriptedRequest, *, model: str) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": _text(step) or None}
    finish = _finish(step)
    if isinstance(step, CallTools):
        message["tool_calls"] = _openai_calls(step, request)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": _openai_usage(step, request),
    }


def openai_chunks(
    step: Answer, request: ScriptedRequest, *, model: str
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, usage last if asked."""
    options = request.body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    base: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model or model,
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**base, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in split_text(_text(step), _chunks(step)):
        yield chunk({"content": piece})
    finish = _finish(step)
    if isinstance(step, CallTools):
        for i, item in enumerate(_openai_calls(step, request)):
            arguments = item["function"]["arguments"]
            head = {**item, "index": i, "function": {"name": item["function"]["name"]}}
            head["function"]["arguments"] = ""
            yield chunk({"tool_calls": [head]})
            # Two pieces, so a client must join argument deltas by index.
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                if piece:
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, finish)
    if include_usage:
        yield {**base, "choices": [], "usage": _openai_usage(step, request)}


def openai_error(status: int, message: str) -> dict[str, Any]:
    """The OpenAI error body."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --- Ollama --------------------------------------------------------------------------


def _created_at() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _ollama_calls(step: CallTools) -> list[dict[str, Any]]:
    return [{"function": {"name": c.name, "arguments": c.arguments_value()}} for c in step.calls]


def _ollama_done(step: Answer, request: ScriptedRequest, *, model: str) -> dict[str, Any]:
    prompt, completion = _usage(step, request)
    return {
        "model": request.model or model,
        "created_at": _created_at(),
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "length" if _finish(step) == "length" else "stop",
        "total_duration": 0,
        "load_duration": 0,
        "prompt_eval_count": prompt,
        "prompt_eval_duration": 0,
        "eval_count": completion,
        "eval_duration": 0,
    }


def ollama_response(step: Answer, request: ScriptedRequest, *, model: str) -> dict[str, Any]:
    """The one object of an unstreamed ``/api/chat`` answer."""
    out = _ollama_done(step, request, model=model)
    out["message"] = {"role": "assistant", "content": _text(step)}
    if isinstance(step, CallTools):
        out["message"]["tool_calls"] = _ollama_calls(step)
    return out


def ollama_chunks(
    step: Answer, request: ScriptedRequest, *, model: str
) -> Iterator[dict[str, Any]]:
    """The NDJSON objects of a streamed ``/api/chat`` answer, ``done: true`` last."""
    name = request.model or model
    for piece in split_text(_text(step), _chunks(step)):
        yield {
            "model": name,
            "created_at": _created_at(),
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }
    if isinstance(step, CallTools):
        # Ollama sends all of a turn's calls whole, in one chunk.
        yield {
            "model": name,
            "created_at": _created_at(),
            "message": {"role": "assistant", "content": "", "tool_calls": _ollama_calls(step)},
            "done": False,
        }
    yield _ollama_done(step, request, model=model)


def ollama_error(message: str) -> dict[str, Any]:
    """The Ollama error body."""
    return {"error": message}
