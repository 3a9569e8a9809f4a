"""What every HTTP endpoint of a jar shares: its state, limits, errors and body reading.

An API (OpenAI, Ollama) differs only in how it lays out an error and a reply;
admission (``max_concurrency`` + ``max_queue``), the bearer token, the body size
limit and JSON validation are the same for both and live here.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
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
    "RETRY_AFTER",
    "Busy",
    "EndpointState",
    "ErrorLayout",
    "Gate",
    "HttpSettings",
    "Problem",
    "RequestLog",
    "check_token",
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
# Seconds a client refused for load is told to wait (the Retry-After header).
RETRY_AFTER = 1
# Where a request's log record lives in the ASGI scope, for handlers to add to.
LOG_KEY = "brainjar.log"

RequestLog = Callable[[dict[str, Any]], None]
"""Receives one JSON-ready record per request, after it ends (``--json`` logging)."""

_Model = TypeVar("_Model", bound=BaseModel)


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
    """

    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None
    max_concurrency: int = 8
    max_queue: int = 64
    request_timeout: float = 300.0


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

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Holds a slot for the block, waiting in the queue if needed.

        Raises:
            Busy: no slot is free and the queue is full.
        """
        if self._slots.value == 0 and self.waiting >= self._queue:
            raise Busy
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()


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
        """What ``/readyz`` reports."""
        return {
            "status": "draining" if self.draining else "ready",
            "model": self.jar.name,
            "tools": len(self.jar.tools()),
            "running": self.gate.running,
            "queued": self.gate.waiting,
        }


def check_token(request: Request, token: str | None) -> None:
    """Refuses a request without the endpoint's bearer token, if it has one.

    Raises:
        Problem: 401, the token is missing or wrong.
    """
    if token is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return
    what = "wrong" if given else "missing"
    raise Problem(
        401,
        f"the bearer token is {what}: send the header 'Authorization: Bearer <token>' with "
        "the token in this endpoint's manifest entry",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def read_model(request: Request, model: type[_Model], *, limit: int) -> _Model:
    """Reads the body as JSON, no larger than ``limit`` bytes, and validates it.

    Raises:
        Problem: 413 too large, 408 too slow, 400 not JSON or not valid.
    """
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
    try:
        data = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise Problem(400, f"the request body is not JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise Problem(400, f"the request body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None


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
    """``/healthz`` (the process serves) and ``/readyz`` (the jar takes conversations)."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        body = state.readiness()
        return JSONResponse(body, status_code=503 if state.draining else 200)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
