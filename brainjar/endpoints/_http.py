"""What every HTTP endpoint of a jar shares: its state, limits, errors and body reading.

An API (OpenAI, Ollama) differs only in how it lays out an error and a reply;
admission (``max_concurrency`` + ``max_queue``), the body's media type, size,
depth and message count, and JSON validation are the same for both and live
here. The bearer token and the Host/Origin checks are ``brainjar.http.Guard``'s.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Send

if TYPE_CHECKING:
    from brainjar.jar._jar import Jar

__all__ = [
    "BODY_TIMEOUT",
    "CLIENT_TOOLS_HEADER",
    "LOG_KEY",
    "MAX_BODY_BYTES",
    "MAX_MESSAGES",
    "PARSE_IN_THREAD",
    "RETRY_AFTER",
    "Busy",
    "EndpointState",
    "ErrorLayout",
    "Gate",
    "HttpSettings",
    "Problem",
    "RequestLog",
    "health_routes",
    "read_model",
    "send_json",
]

# Sent by a client that wants its own ``tools`` ignored rather than refused.
CLIENT_TOOLS_HEADER = "x-brainjar-client-tools"
# The largest request body an endpoint reads, unless its factory is told otherwise.
MAX_BODY_BYTES = 4 * 1024 * 1024
# How long a client may take to send its request body.
BODY_TIMEOUT = 30.0
# The most messages one request may carry, unless the endpoint's settings say otherwise.
MAX_MESSAGES = 1024
# Bodies larger than this (bytes) are parsed and validated in a worker thread, so a
# big request does not hold up every other client on the event loop.
PARSE_IN_THREAD = 64 * 1024
# Seconds a client refused for load is told to wait (the Retry-After header).
RETRY_AFTER = 1
# Where a request's log record lives in the ASGI scope, for handlers to add to.
LOG_KEY = "brainjar.log"

RequestLog = Callable[[dict[str, Any]], None]
"""Receives one JSON-ready record per request, after it ends (``--json`` logging)."""

_Model = TypeVar("_Model", bound=BaseModel)

# A JSON escape of a UTF-16 surrogate: the body may hold text UTF-8 cannot carry.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """Where an HTTP endpoint listens and how much it takes at once.

    Attributes:
        host: the address to listen on.
        port: the port; 0 picks a free one.
        token: the bearer token clients must send, or None.
        max_concurrency: conversations running at once.
        max_queue: requests waiting for a slot before more are refused (429).
        request_timeout: seconds one conversation may take.
        allowed_origins: web origins (``https://app.example``, ``http://host:*``;
            ``"*"``: any) whose pages may call the endpoint, besides loopback ones.
        max_messages: the most messages one request may carry (more: 400).
    """

    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    max_concurrency: int = 8
    max_queue: int = 64
    request_timeout: float = 300.0
    allowed_origins: Sequence[str] = ()
    max_messages: int = MAX_MESSAGES


class Problem(Exception):
    """A request the endpoint refuses; each API renders it in its own error layout.

    Args:
        status: the HTTP status.
        message: what went wrong and what to do instead.
        code: a machine-readable code (OpenAI's ``error.code``).
        param: the request field at fault, where there is one.
        kind: OpenAI's ``error.type``; default: by status.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.kind = kind or _kind_for(status)
        self.headers = dict(headers or {})


def _kind_for(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


ErrorLayout = Callable[[Problem], dict[str, Any]]
"""An API's error body for a problem."""


class Busy(Exception):
    """Every slot is taken and the queue is full."""


class Gate:
    """Admission: ``concurrency`` conversations at once, ``queue`` more waiting, others refused."""

    def __init__(self, *, concurrency: int, queue: int) -> None:
        self._slots = anyio.Semaphore(concurrency)
        self._queue = queue
        self.running = 0
        self.waiting = 0
        self._left: anyio.Event | None = None
        # Told how long each admitted conversation waited for its slot (the metrics).
        self.on_admit: Callable[[float], None] | None = None
        # Told when ``running`` or ``waiting`` changed (the metrics' gauges).
        self.on_change: Callable[[], None] | None = None

    async def wait_idle(self) -> None:
        """Waits until no conversation runs or waits (callers bound the wait)."""
        while self.running or self.waiting:
            if self._left is None:
                self._left = anyio.Event()
            await self._left.wait()

    def _leave(self) -> None:
        left, self._left = self._left, None
        if left is not None:
            left.set()

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Holds a slot for the block, waiting in the queue if needed.

        Raises:
            Busy: no slot is free and the queue is full.
        """
        if self._slots.value == 0 and self.waiting >= self._queue:
            raise Busy
        self.waiting += 1
        self._changed()
        began = time.perf_counter()
        try:
            await self._slots.acquire()
        except BaseException:
            self.waiting -= 1
            self._changed()
            self._leave()
            raise
        self.waiting -= 1
        if self.on_admit is not None:
            self.on_admit(time.perf_counter() - began)
        self.running += 1
        self._changed()
        try:
            yield
        finally:
            self.running -= 1
            self._changed()
            self._slots.release()
            self._leave()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


@dataclass(kw_only=True)
class EndpointState:
    """One served endpoint: its jar, settings and live counters."""

    jar: Jar
    config: HttpSettings
    kind: str
    max_body: int = MAX_BODY_BYTES
    gate: Gate = field(init=False)
    created: int = field(default_factory=lambda: int(time.time()))
    draining: bool = False

    def __post_init__(self) -> None:
        self.gate = Gate(concurrency=self.config.max_concurrency, queue=self.config.max_queue)

    def readiness(self) -> dict[str, Any]:
        """What ``/readyz`` reports: ready, draining, or the model's state and why.

        ``status`` is ``ready`` only while the endpoint takes conversations and the
        model process is ready; otherwise ``reason`` says why not.
        """
        model = self.jar.model_status()
        body: dict[str, Any] = {
            "status": "draining" if self.draining else model.state,
            "model": self.jar.name,
            "tools": len(self.jar.tools()),
            "running": self.gate.running,
            "queued": self.gate.waiting,
        }
        if self.draining:
            body["reason"] = "the endpoint is shutting down: conversations in flight finish"
        elif not model.ready:
            body["reason"] = f"the model process is {model.state}: {model.reason}"
        return body


async def read_model(
    request: Request,
    model: type[_Model],
    *,
    limit: int,
    max_messages: int = MAX_MESSAGES,
) -> _Model:
    """Reads the body as JSON, no larger than ``limit`` bytes, and validates it.

    A body over ``PARSE_IN_THREAD`` bytes is parsed in a worker thread.

    Raises:
        Problem: 415 not sent as JSON, 413 too large, 408 too slow, 400 not JSON, too
            deep, more than ``max_messages`` messages, or not valid.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise Problem(
            415,
            f"the request body's Content-Type is {media_type or 'missing'!r}: send JSON with "
            "the header 'Content-Type: application/json'",
            code="unsupported_media_type",
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(int(length), limit)
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(BODY_TIMEOUT) as timer:
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > limit:
                    raise _too_large(size, limit)
                chunks.append(chunk)
    if timer.cancelled_caught:
        raise Problem(408, f"the request body did not arrive within {BODY_TIMEOUT:g}s")
    raw = b"".join(chunks)
    if size > PARSE_IN_THREAD:
        return await anyio.to_thread.run_sync(_parse, raw, model, max_messages)
    return _parse(raw, model, max_messages)


def _parse(raw: bytes, model: type[_Model], max_messages: int) -> _Model:
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise Problem(400, f"the request body is not JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise Problem(400, f"the request body must be a JSON object, not {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(raw):
        try:
            data = _without_surrogates(data)
        except RecursionError:
            raise _too_deep() from None
    messages = data.get("messages")
    if isinstance(messages, list) and len(messages) > max_messages:
        raise Problem(
            400,
            f"the request carries {len(messages)} messages; this endpoint takes at most "
            f"{max_messages}: send a shorter conversation",
            code="too_many_messages",
            param="messages",
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    except RecursionError:
        raise _too_deep() from None


def _without_surrogates(data: Any) -> Any:
    """``data`` with lone surrogates ("\\ud800") replaced by U+FFFD.

    JSON can carry them, UTF-8 cannot: left in, they would fail the request to
    the model and every other place the text is written.
    """
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, list):
        return [_without_surrogates(item) for item in data]
    if isinstance(data, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in data.items()}
    return data


def _too_deep() -> Problem:
    return Problem(
        400,
        "the request body is nested too deeply to read: send JSON nested a few levels deep",
        code="invalid_json",
    )


def _too_large(size: int, limit: int) -> Problem:
    return Problem(
        413,
        f"the request body is {size} bytes or more; this endpoint reads at most {limit} bytes: "
        "send a shorter conversation",
        code="request_too_large",
    )


def _invalid(exc: ValidationError) -> Problem:
    errors = exc.errors(include_url=False)
    lines = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        lines.append(f"{where}: {error['msg']}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
    return Problem(
        400, "invalid request: " + "; ".join(lines) + more, code="invalid_request", param=first
    )


async def send_json(
    send: Send,
    status: int,
    body: Any,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Sends a whole JSON response through a raw ASGI ``send``."""
    data = json.dumps(body, ensure_ascii=False).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def health_routes(state: EndpointState) -> list[Route]:
    """``/healthz`` (the jar can serve: 503 once its model process failed for good) and
    ``/readyz`` (the jar takes conversations now: 503 while draining or while the
    model process is not ready)."""

    async def healthz(_: Request) -> Response:
        model = state.jar.model_status()
        if model.state in ("failed", "stopped"):  # it will not come back: restart the jar
            error = f"the model process is {model.state}: {model.reason}"
            return JSONResponse({"status": model.state, "error": error}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        body = state.readiness()
        return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
