"""A model client for any OpenAI-compatible server: llama.cpp, vLLM, Ollama's /v1, OpenAI.

The lean path: one pooled ``aiohttp`` session per model, the request body dumped
once with ``json``, the SSE stream framed here and each chunk read as plain JSON.
The ``openai`` SDK's per-request parameter transform and per-chunk model
construction cost several milliseconds a round trip on loopback (see
bench/bench_endpoints.py), more than everything else the jar does; httpx, which
this client used next, took 2.2 ms of CPU per streamed request where aiohttp,
with its C HTTP parser, takes 0.7 ms (bench/bench_http_halves.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import anyio

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
from ._transport import env_proxy, tls_context

__all__ = ["OpenAIClient"]

# How long closing a half-read answer or the HTTP client may take.
CLOSE_TIMEOUT = 5.0
# Local servers ignore the key, but hosted ones want the header.
PLACEHOLDER_API_KEY = "not-needed"
# Answers worth asking again (as the openai SDK does): conflict, rate limit, server errors.
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Waits between tries: 0.5 s, doubling, at most 8 s; a Retry-After of up to a minute wins.
RETRY_FIRST = 0.5
RETRY_MOST = 8.0
RETRY_AFTER_MOST = 60.0
# Connections open at once to one model server (the openai SDK's limit).
MOST_CONNECTIONS = 1000
# The longest server-sent event read before the answer counts as garbage.
MOST_EVENT_BYTES = 32 * 1024 * 1024


class _Failed(Exception):
    """The server said something that is not a chunk of an answer."""


class OpenAIClient:
    """Talks to an OpenAI-compatible Chat Completions server, streaming, with tools.

    Args:
        base_url: the API's base URL, usually ending in ``/v1``.
        model: the served model's name.
        api_key: the key; ``None`` for local servers, which ignore it.
        timeout: seconds to wait for the server (to connect, and for each piece of
            the answer) before giving up; a timeout is not retried.
        max_retries: how often a refused connection, or a 408, 409, 429 or 5xx
            answer, is tried again before any of the answer has come.
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
        self.max_retries = max_retries
        self._headers = {
            "Authorization": f"Bearer {api_key or PLACEHOLDER_API_KEY}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        # Made on first use: an aiohttp session belongs to the event loop it is made in.
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._url = f"{self.base_url}/chat/completions"

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
        body = json.dumps(self._request(messages, tools=tools, parameters=parameters)).encode()
        began = time.perf_counter()
        response = await self._send(body)
        text: list[str] = []
        calls = _ToolCallAssembler()
        finish: str | None = None
        tokens: tuple[int, int] = (0, 0)
        first: float | None = None  # when the first piece of the answer came
        try:
            async for events in _sse_events(response.content):
                said: list[str] = []  # the text of the events that came in one read
                for data in events:
                    # Read on to the body's end, past [DONE]: a connection whose response
                    # was not read to its end is closed instead of going back to the pool.
                    if not data or data == "[DONE]":
                        continue
                    chunk = json.loads(data)
                    if not isinstance(chunk, dict):
                        raise _Failed(f"a chunk that is not an object: {data[:200]}")
                    if "error" in chunk:  # a failure after the answer began (vLLM, OpenAI)
                        raise _Failed(_message_of(chunk) or data[:500])
                    usage = chunk.get("usage")
                    if isinstance(usage, dict):
                        tokens = (
                            usage.get("prompt_tokens") or 0,
                            usage.get("completion_tokens") or 0,
                        )
                    for choice in chunk.get("choices") or ():
                        if choice.get("index", 0) != 0:
                            continue
                        delta = choice.get("delta") or {}
                        content, pieces = delta.get("content"), delta.get("tool_calls")
                        if first is None and (content or pieces):
                            first = time.perf_counter()
                        if content:
                            said.append(content)
                        for piece in pieces or ():
                            function = piece.get("function") or {}
                            calls.add(
                                index=piece.get("index"),
                                id=piece.get("id"),
                                name=function.get("name"),
                                arguments=function.get("arguments"),
                            )
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
                if said:
                    # One delta for what arrived together: a model faster than the
                    # jar reads costs one trip through the loop per read, not per token.
                    text.extend(said)
                    yield ModelTextDelta(text="".join(said))
        except TimeoutError:  # aiohttp's read timeouts are TimeoutErrors too
            raise self._timed_out() from None
        except (aiohttp.ClientError, _Failed, ValueError, AttributeError, TypeError) as exc:
            raise ModelError(
                f"the model server at {self.base_url} failed while answering: {exc}; "
                "is it an OpenAI-compatible server? Check its log"
            ) from exc
        finally:
            # A body read to its end has given its connection back to the pool
            # already; one left half-read (an error, a cancel) is closed here.
            response.close()
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
        """Closes the HTTP session and its connections."""
        session, self._session = self._session, None
        if session is not None:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            tls = tls_context() if self._url.startswith("https:") else True
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MOST_CONNECTIONS, ssl=tls),
                # For a connection (a new one, or a turn in the pool), and between two
                # reads of the answer; the whole answer may take longer.
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.timeout, sock_read=self.timeout
                ),
                headers=self._headers,
                # A model server's cookies are not kept: each request stands alone.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            # Read once, not per request: aiohttp's trust_env reads the proxy variables
            # and ~/.netrc on a thread for every request (two thread hops, 1 ms of CPU).
            self._proxy = env_proxy(self._url)
        return self._session

    async def _send(self, body: bytes) -> aiohttp.ClientResponse:
        """POSTs the request; the streaming response once it answered 2xx.

        A refused connection, a connection the server dropped before answering,
        or a retryable status is tried again, with waits, up to ``max_retries``
        times; nothing of an answer has been read then.
        """
        session = self._http()
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = await session.post(self._url, data=body, proxy=self._proxy)
            except TimeoutError:
                raise self._timed_out() from None
            except aiohttp.ClientSSLError as exc:  # a certificate that does not verify
                raise ModelError(
                    f"the TLS handshake with the model server at {self.base_url} failed "
                    f"({exc}); if its certificate comes from a private CA, set "
                    "SSL_CERT_FILE to that CA's certificate (PEM)"
                ) from exc
            except aiohttp.ClientError as exc:
                # A refused or dropped connection may go better next time.
                retry = isinstance(
                    exc, (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError)
                )
                if last or not retry:
                    raise ModelError(
                        f"cannot reach the model server at {self.base_url} ({exc}); "
                        f"is the model server running at {self.base_url}?"
                    ) from exc
                await anyio.sleep(_wait(attempt, None))
                continue
            if response.status < 400:
                return response
            try:
                said = await response.text(errors="replace")
            except (aiohttp.ClientError, TimeoutError):
                said = ""
            finally:
                response.close()
            if not last and response.status in RETRY_STATUSES:
                await anyio.sleep(_wait(attempt, response.headers.get("retry-after")))
                continue
            raise self._refused(response.status, response.reason, said)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _timed_out(self) -> ModelError:
        return ModelError(
            f"the model server at {self.base_url} did not answer within {self.timeout:g}s; "
            "is it overloaded, or the model too slow? Check its log, or raise "
            "spec.model.timeout"
        )

    def _refused(self, status: int, reason: str | None, text: str) -> ModelError:
        url = self.base_url
        hint = "check the server's log"
        if status in (401, 403):
            hint = "check spec.model.api_key"
        elif status == 404:
            hint = (
                f"is {url} an OpenAI-compatible base URL (it usually ends in /v1), "
                f"and does it serve the model {self.model!r}?"
            )
        said = _detail(text, reason)
        return ModelError(f"the model server at {url} answered HTTP {status}: {said}; {hint}")

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
        for key, value in parameters.items():
            if key == "tool_choice":
                if tools:  # a choice without tools is an error to most servers
                    request["tool_choice"] = openai_tool_choice(value)
            elif key == "response_format" and self.dialect == "llama-cpp":
                request[key] = llama_cpp_response_format(value)
            elif key in OPENAI_PARAMETERS:
                request[key] = value
            else:  # a server's own knob (llama.cpp's top_k, vLLM's min_p): passed as is
                request.setdefault(key, value)
        if tools:
            request["tools"] = openai_tools(tools)
        return request


def _wait(attempt: int, retry_after: str | None) -> float:
    """Seconds before the next try: the server's Retry-After, or a doubling wait."""
    if retry_after is not None:
        try:
            asked = float(retry_after)
        except ValueError:
            pass
        else:
            if 0 <= asked <= RETRY_AFTER_MOST:
                return asked
    return float(min(RETRY_MOST, RETRY_FIRST * 2**attempt))


def _message_of(body: Any) -> str | None:
    """``error.message`` (or a bare ``error`` string) of an error body, if it has one."""
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return None


def _detail(text: str, reason: str | None) -> str:
    """The server's own words from an error response's body."""
    text = text.strip()
    try:
        said = _message_of(json.loads(text))
    except ValueError:
        said = None
    return said or text[:500] or reason or "no reason given"


async def _sse_events(body: aiohttp.StreamReader) -> AsyncIterator[list[str]]:
    """The ``data`` of the server-sent events of ``body``, those each read completed.

    Framed as the SSE standard says: lines end in LF, CRLF or CR; ``data:`` lines
    of one event are joined with newlines; an event ends at a blank line; comments
    and other fields (``event``, ``id``, ``retry``) are skipped; an event the body
    ends inside is dropped. Read by pieces, not lines, so no line is too long to
    read; the events a piece completes come as one list.
    """
    pending = b""
    data: list[str] = []
    held = 0  # the bytes of the event being read: its data so far and the line in hand
    async for piece in body.iter_any():
        pending += piece
        if held + len(pending) > MOST_EVENT_BYTES:
            raise _Failed(f"an event of over {MOST_EVENT_BYTES} bytes")
        if b"\n" not in piece and b"\r" not in piece:
            continue
        lines = pending.splitlines(keepends=True)
        # The last line is whole only if it ended; a lone CR may be half a CRLF.
        pending = b"" if lines[-1].endswith(b"\n") else lines.pop()
        events: list[str] = []
        for raw in lines:
            line = raw.rstrip(b"\r\n").decode()
            if not line:
                if data:
                    events.append("\n".join(data))
                    data, held = [], 0
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value[1:] if value.startswith(" ") else value)
                held += len(raw)
        if events:
            yield events


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
