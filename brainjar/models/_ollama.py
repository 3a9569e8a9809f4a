"""A model client for Ollama's own chat API (``/api/chat``), through the ``ollama`` SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

import anyio
import httpx
import ollama

from brainjar._errors import ModelError
from brainjar.runtime._messages import (
    Message,
    ModelResponse,
    ModelTextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

from ._convert import new_call_id, ollama_messages, ollama_options, openai_tools
from ._transport import env_proxy, tls_context

__all__ = ["OllamaClient"]

# How long closing a half-read answer or the HTTP client may take.
CLOSE_TIMEOUT = 5.0
# ValueError covers a body that is not JSON and one the SDK's models refuse
# (pydantic's ValidationError), such as tool-call arguments that are not an object.
_ERRORS: tuple[type[Exception], ...] = (
    ollama.ResponseError,
    ConnectionError,
    httpx.HTTPError,
    ValueError,
)


class OllamaClient:
    """Talks to an Ollama server's ``/api/chat``, streaming, with tools.

    Ollama's tool calls have no ids, so the client makes them; their arguments
    are JSON objects, which the client turns into the JSON text a ``ToolCall``
    holds, and back into objects for the history (text that is not a JSON
    object goes back as ``{}``). Generation parameters go in ``options``, with
    ``max_tokens`` renamed ``num_predict``; ``tool_choice`` is dropped, as Ollama
    has none. A ``response_format`` with a JSON schema (either shape) becomes
    Ollama's ``format``: the schema, which Ollama holds the reply to.

    The proxy variables and ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are read as the
    OpenAI-compatible client reads them: an Ollama on this machine is never asked
    through a proxy (httpx, left to itself, sends it to ``HTTP_PROXY``).

    Args:
        host: the server, e.g. ``http://127.0.0.1:11434``.
        model: the model's name, e.g. ``qwen2.5:0.5b``.
        timeout: seconds to wait for the server before giving up.
    """

    def __init__(self, *, host: str, model: str, timeout: float = 120.0) -> None:
        self.host = host.rstrip("/")
        self.model = model
        self.timeout = timeout
        self._client = ollama.AsyncClient(
            host=self.host,
            timeout=timeout,
            trust_env=False,
            proxy=env_proxy(self.host),
            verify=tls_context() if self.host.startswith("https:") else True,
        )

    def __repr__(self) -> str:
        return f"OllamaClient(host={self.host!r}, model={self.model!r})"

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
        options, fields = ollama_options(parameters)
        try:
            parts = await self._client.chat(
                model=self.model,
                messages=ollama_messages(messages),
                tools=openai_tools(tools) or None,
                stream=True,
                options=options or None,
                **fields,
            )
        except _ERRORS as exc:
            raise self._error(exc) from exc
        text: list[str] = []
        calls: list[ToolCall] = []
        done_reason: str | None = None
        usage = Usage()
        try:
            async for part in parts:
                content = part.message.content
                if content:
                    text.append(content)
                    yield ModelTextDelta(text=content)
                calls.extend(
                    ToolCall(
                        id=new_call_id(),
                        name=c.function.name,
                        arguments=json.dumps(dict(c.function.arguments), ensure_ascii=False),
                    )
                    for c in part.message.tool_calls or ()
                )
                if part.done:
                    done_reason = part.done_reason
                    usage = Usage(
                        prompt_tokens=part.prompt_eval_count or 0,
                        completion_tokens=part.eval_count or 0,
                        prompt_seconds=(part.prompt_eval_duration or 0) / 1e9,
                        completion_seconds=(part.eval_duration or 0) / 1e9,
                    )
        except _ERRORS as exc:
            raise self._error(exc) from exc
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await parts.aclose()  # type: ignore[attr-defined]
        message = Message(role="assistant", content="".join(text), tool_calls=tuple(calls))
        finish = "tool_calls" if calls else done_reason
        yield ModelResponse(message=message, finish_reason=finish, usage=usage)

    async def aclose(self) -> None:
        """Closes the HTTP client and its connections."""
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            await self._client.close()  # type: ignore[no-untyped-call]

    def _error(self, exc: Exception) -> ModelError:
        host = self.host
        if isinstance(exc, httpx.TimeoutException):
            return ModelError(
                f"the Ollama server at {host} did not answer within {self.timeout:g}s; "
                "is the model still loading, or too slow? Raise spec.model.timeout"
            )
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            return ModelError(
                f"cannot reach the Ollama server at {host}; is Ollama running at {host} "
                "(ollama serve)?"
            )
        if isinstance(exc, httpx.TransportError):
            return ModelError(
                f"the connection to the Ollama server at {host} broke ({exc!r}); "
                "did it stop or crash? Check its log"
            )
        if isinstance(exc, ollama.ResponseError):
            hint = "check the server's log"
            if exc.status_code == 404:
                hint = f"is the model pulled? Run: ollama pull {self.model}"
            return ModelError(
                f"the Ollama server at {host} answered HTTP {exc.status_code}: {exc.error}; {hint}"
            )
        return ModelError(
            f"the Ollama server at {host} sent an answer brainjar cannot read: {exc}; "
            "is it an Ollama server?"
        )
