"""The one way brainjar serves an ASGI app: uvicorn on a socket bound by ``listen``.

Every HTTP server of brainjar (the OpenAI/Ollama endpoints, the MCP HTTP server,
the scripted model) runs through ``serve_asgi``. It reports its URL once uvicorn
listens, and has one way to stop: on cancellation it stops accepting, lets
requests in flight finish within a grace period, then closes what is left.

Every server gets the same limits against slow, idle or greedy clients: a client
must send its request head within ``HEAD_TIMEOUT`` and in at most ``MAX_HEAD``
bytes (uvicorn's httptools protocol has neither limit, so the protocol below adds
them), an idle keep-alive connection is closed after ``KEEP_ALIVE``, and no more
than ``MAX_CONNECTIONS`` connections are open at once.

The protocol is httptools (llhttp, in C) rather than h11: it takes about 0.5 ms
less CPU per request (``bench/bench_http_halves.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from brainjar._errors import TransportError

from ._listen import QuietUvicorn, listen

__all__ = [
    "HEAD_TIMEOUT",
    "KEEP_ALIVE",
    "MAX_CONNECTIONS",
    "STARTUP_TIMEOUT",
    "STOP_GRACE",
    "serve_asgi",
]

# How long uvicorn may take to start serving on the bound socket.
STARTUP_TIMEOUT = 10.0
# How long requests in flight may go on after the server is told to stop.
STOP_GRACE = 10.0
# uvicorn's own shutdown steps on top of the grace, before it is cut off.
STOP_MARGIN = 2.0
# How long a client may take to send a request's head (request line and headers),
# counted from the connection's start or from the first byte of a later request.
HEAD_TIMEOUT = 10.0
# How long an idle keep-alive connection stays open; longer than clients' pools
# keep theirs, so a client rarely reuses a connection the server is closing.
KEEP_ALIVE = 30
# Connections open at once; one more is answered 503 and closed at once.
MAX_CONNECTIONS = 1000
# Bytes a request's head (request line and headers) may take; more is answered 431.
MAX_HEAD = 16 * 1024

_BUSY = b"too many open connections; try again later"
_OVERLOADED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY), _BUSY)
)
_BIG_HEAD = b"request head too large"
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_BIG_HEAD), _BIG_HEAD)
)


async def serve_asgi(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    what: str,
    url_path: str = "",
    grace: float = STOP_GRACE,
    head_timeout: float = HEAD_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    max_connections: int = MAX_CONNECTIONS,
    on_stop: Callable[[], None] | None = None,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves ``app`` until cancelled; reports ``http://host:port<url_path>`` once it listens.

    Args:
        app: the ASGI app (HTTP only: no lifespan, no websockets).
        host: the address to listen on.
        port: the port; 0 picks a free one.
        what: the server's name in errors ("the openai endpoint").
        url_path: appended to the URL reported.
        grace: seconds requests in flight may go on once the server is stopped.
        head_timeout: seconds a client may take to send a request's head.
        keep_alive: seconds an idle keep-alive connection stays open.
        max_connections: connections open at once; more are refused with 503.
        on_stop: called once as the server begins to stop (before the grace).
        task_status: receives the URL.

    Raises:
        TransportError: the address cannot be bound, or uvicorn did not start or stopped
            by itself.
    """
    sock = listen(host, port, what=what)
    try:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}{url_path}"
        config = uvicorn.Config(
            app,
            lifespan="off",
            http=_protocol(head_timeout=head_timeout, max_connections=max_connections),
            ws="none",
            log_config=None,
            log_level=logging.WARNING,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=grace,  # type: ignore[arg-type]  # a float works
            timeout_keep_alive=keep_alive,
        )
        settled = anyio.Event()  # uvicorn listens, or gave up
        stopped = anyio.Event()
        server = QuietUvicorn(config, on_started=settled.set)
        run_scope = anyio.CancelScope(shield=True)  # stopped by should_exit, not by cancellation
        failures: list[BaseException] = []

        async def run() -> None:
            try:
                with run_scope:
                    await server.serve(sockets=[sock])
            except Exception as exc:
                failures.append(exc)
            finally:
                stopped.set()
                settled.set()

        def why() -> str:
            return f": {failures[0]}" if failures else ""

        problem: TransportError | None = None  # raised outside the task group, unwrapped
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                with anyio.move_on_after(STARTUP_TIMEOUT):
                    await settled.wait()
                if not server.started or stopped.is_set():
                    problem = TransportError(f"{what} on {url} did not start{why()}")
                else:
                    task_status.started(url)
                    await stopped.wait()
                    problem = TransportError(f"{what} on {url} stopped by itself{why()}")
            finally:
                with anyio.CancelScope(shield=True):
                    if on_stop is not None:
                        on_stop()
                    server.should_exit = True
                    run_scope.deadline = anyio.current_time() + grace + STOP_MARGIN
                    with anyio.move_on_after(grace + 2 * STOP_MARGIN):
                        await stopped.wait()
                    _close_connections(server)
        if problem is not None:
            raise problem
    finally:
        sock.close()


def _close_connections(server: uvicorn.Server) -> None:
    """Closes connections uvicorn left open when it was cut off."""
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if transport is not None:
            transport.close()


def _protocol(*, head_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with this server's head limits and connection cap."""

    class Protocol(_GuardedHttpTools):
        pass

    Protocol.head_timeout = head_timeout
    Protocol.max_connections = max_connections
    return Protocol


class _GuardedHttpTools(HttpToolsProtocol):
    """httptools (llhttp, in C) with a timer and a size cap on the request head.

    llhttp has neither, so a client could hold a connection open by sending its
    head a byte at a time, or fill memory with an endless one. The head timer runs
    from the connection's start and from the first byte of each later request
    (an idle keep-alive connection is uvicorn's ``timeout_keep_alive``) until the
    head is complete; a client that has not finished it by then is disconnected.
    More than ``MAX_HEAD`` bytes of head is answered 431 and the connection closed.
    """

    head_timeout: float = HEAD_TIMEOUT
    max_connections: int = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_body = False  # between a request's head and its end
        self._head_bytes = 0  # bytes received since the head began

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_OVERLOADED)
            transport.close()
            return
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if not self._in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes > MAX_HEAD and not self._in_body and not self.transport.is_closing():
            self.transport.write(_HEAD_TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        if self._head_timer is None:
            self._arm_head_timer()  # a new request on a kept-alive connection
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._in_body = True
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
