"""A model client for any OpenAI-compatible server: llama.cpp, vLLM, Ollama's /v1, OpenAI."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx
import openai

from brainjar._errors import ModelError
from brainjar.runtime._messages import (
    Message,
    ModelResponse,
    ModelTextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

from ._convert import (
    OPENAI_PARAMETERS,
    llama_cpp_response_format,
    new_call_id,
    openai_messages,
    openai_tool_choice,
    openai_tools,
)

__all__ = ["OpenAIClient"]

# How long closing a half-read answer or the HTTP client may take.
CLOSE_TIMEOUT = 5.0
# Local servers ignore the key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"


def _transport_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """The HTTP library's (errors, timeouts) raised, unwrapped, while a body streams.

    openai 3 talks through httpx2, older versions through httpx.
    """
    errors: list[type[Exception]] = [httpx.HTTPError]
    timeouts: list[type[Exception]] = [httpx.TimeoutException]
    try:
        import httpx2
    except ImportError:  # pragma: no cover - depends on the openai version
        pass
    else:
        errors.append(httpx2.HTTPError)
        timeouts.append(httpx2.TimeoutException)
    return tuple(errors), tuple(timeouts)


_HTTP_ERRORS, _HTTP_TIMEOUTS = _transport_errors()
# ValueError: a body that is not the JSON it should be.
_ERRORS: tuple[type[Exception], ...] = (openai.OpenAIError, *_HTTP_ERRORS, ValueError)


class OpenAIClient:
    """Talks to an OpenAI-compatible Chat Completions server, streaming, with tools.

    Args:
        base_url: the API's base URL, usually ending in ``/v1``.
        model: the served model's name.
        api_key: the key; ``None`` for local servers, which ignore it.
        timeout: seconds to wait for the server before giving up.
        max_retries: how often the SDK retries a failed connection or a 5xx.
        dialect: ``llama-cpp`` for llama-cpp-python's server, which takes a JSON
            schema response format as ``{"type": "json_object", "schema": ...}``.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        dialect: Literal["openai", "llama-cpp"] = "openai",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.dialect = dialect
        self.timeout = timeout
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or PLACEHOLDER_API_KEY,
            timeout=timeout,
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        return f"OpenAIClient(base_url={self.base_url!r}, model={self.model!r})"

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """Asks for one turn; yields text deltas, then the whole ``ModelResponse``.

        Raises:
            ModelError: the server refused, failed, timed out or could not be reached.
        """
        request = self._request(messages, tools=tools, parameters=parameters)
        began = time.perf_counter()
        try:
            stream = await self._client.chat.completions.create(**request)
        except _ERRORS as exc:
            raise self._error(exc) from exc
        text: list[str] = []
        calls = _ToolCallAssembler()
        finish: str | None = None
        tokens: tuple[int, int] = (0, 0)
        first: float | None = None  # when the first piece of the answer came
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    tokens = (chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if first is None and (delta.content or delta.tool_calls):
                        first = time.perf_counter()
                    if delta.content:
                        text.append(delta.content)
                        yield ModelTextDelta(text=delta.content)
                    for piece in delta.tool_calls or ():
                        function = piece.function
                        calls.add(
                            index=piece.index,
                            id=piece.id,
                            name=function.name if function is not None else None,
                            arguments=function.arguments if function is not None else None,
                        )
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except _ERRORS as exc:
            raise self._error(exc) from exc
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await stream.close()
        if finish is None and not text and not calls.done():
            # llama.cpp's server, failing after the stream began, just ends it.
            raise ModelError(
                f"the model server at {self.base_url} ended its answer without a word, a "
                "tool call or a finish reason: it failed while answering; check its log "
                "(brainjar run --verbose)"
            )
        ended = time.perf_counter()
        first = ended if first is None else first
        usage = Usage(
            prompt_tokens=tokens[0],
            completion_tokens=tokens[1],
            prompt_seconds=first - began,
            completion_seconds=ended - first,
        )
        message = Message(role="assistant", content="".join(text), tool_calls=calls.done())
        yield ModelResponse(message=message, finish_reason=finish, usage=usage)

    async def aclose(self) -> None:
        """Closes the HTTP client and its connections."""
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            await self._client.close()

    def _request(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": openai_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        extra: dict[str, Any] = {}
        for key, value in parameters.items():
            if key == "tool_choice":
                if tools:  # a choice without tools is an error to most servers
                    request["tool_choice"] = openai_tool_choice(value)
            elif key == "response_format" and self.dialect == "llama-cpp":
                request[key] = llama_cpp_response_format(value)
            elif key in OPENAI_PARAMETERS:
                request[key] = value
            else:  # a server's own knob (llama.cpp's top_k, vLLM's min_p): passed as is
                extra[key] = value
        if tools:
            request["tools"] = openai_tools(tools)
        if extra:
            request["extra_body"] = extra
        return request

    def _error(self, exc: Exception) -> ModelError:
        url = self.base_url
        if isinstance(exc, (openai.APITimeoutError, *_HTTP_TIMEOUTS)):
            return ModelError(
                f"the model server at {url} did not answer within {self.timeout:g}s; "
                "is it overloaded, or the model too slow? Check its log, or raise "
                "spec.model.timeout"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return ModelError(
                f"cannot reach the model server at {url} ({cause}); "
                f"is the model server running at {url}?"
            )
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            hint = "check the server's log"
            if status in (401, 403):
                hint = "check spec.model.api_key"
            elif status == 404:
                hint = (
                    f"is {url} an OpenAI-compatible base URL (it usually ends in /v1), "
                    f"and does it serve the model {self.model!r}?"
                )
            return ModelError(
                f"the model server at {url} answered HTTP {status}: {_detail(exc)}; {hint}"
            )
        return ModelError(
            f"the model server at {url} failed while answering: {exc}; "
            "is it an OpenAI-compatible server? Check its log"
        )


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own words from an error response."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    try:
        text = exc.response.text.strip()
    except Exception:  # a streamed body that was never read
        text = ""
    return text[:500] or exc.message


@dataclass
class _Slot:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _ToolCallAssembler:
    """Joins streamed tool-call deltas, by ``index``, into whole calls.

    A server that reuses an index for a call with a new id (some do for
    parallel calls) gets a new slot; a name repeated in later deltas is not
    appended again.
    """

    def __init__(self) -> None:
        self._slots: list[_Slot] = []
        self._by_index: dict[int, _Slot] = {}

    def add(
        self, *, index: int | None, id: str | None, name: str | None, arguments: str | None
    ) -> None:
        key = len(self._slots) if index is None else index
        slot = self._by_index.get(key)
        if slot is None or (id and slot.id and id != slot.id):
            slot = _Slot()
            self._slots.append(slot)
            self._by_index[key] = slot
        if id and not slot.id:
            slot.id = id
        if name and not slot.name:
            slot.name = name
        if arguments:
            slot.arguments.append(arguments)

    def done(self) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(id=s.id or new_call_id(), name=s.name, arguments="".join(s.arguments))
            for s in self._slots
        )
