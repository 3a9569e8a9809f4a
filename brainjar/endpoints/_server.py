"""Serving one endpoint's ASGI app with uvicorn, on a socket bound here.

The socket is bound before uvicorn starts, so a port of 0 is known at once and a
bad port is a clear error. Readiness is uvicorn's own startup finishing, never a
sleep. On cancellation the endpoint stops accepting, lets requests in flight
finish within ``STOP_GRACE``, then closes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brainjar._errors import TransportError
from brainjar.http._listen import QuietUvicorn, listen

from ._http import LOG_KEY, MAX_BODY_BYTES, EndpointState, HttpSettings, RequestLog

if TYPE_CHECKING:
    from brainjar.jar._jar import Jar

__all__ = ["STARTUP_TIMEOUT", "STOP_GRACE", "HttpEndpoint"]

log = logging.getLogger("brainjar.endpoints")

# How long uvicorn may take to start serving on the bound socket.
STARTUP_TIMEOUT = 10.0
# How long requests in flight may go on after the endpoint is told to stop.
STOP_GRACE = 10.0
# uvicorn's own shutdown steps on top of the grace, before it is cut off.
STOP_MARGIN = 2.0
# How long an idle keep-alive connection stays open; longer than clients' pools
# keep theirs, so a client rarely reuses a connection the server is closing.
KEEP_ALIVE = 30

AppBuilder = Callable[[EndpointState], ASGIApp]


class HttpEndpoint:
    """An HTTP endpoint of a jar: an ASGI app served by uvicorn until cancelled.

    Args:
        config: where it listens and its limits.
        kind: ``openai`` or ``ollama``, for messages and logs.
        build: makes the ASGI app for an endpoint's state.
        url_path: appended to ``http://host:port`` in the URL reported (``/v1``).
        max_body: the largest request body read, in bytes.
        log: receives one record per request (method, path, status, seconds, and for
            a conversation: model, stream, steps, stop_reason, error, disconnected).
    """

    def __init__(
        self,
        config: HttpSettings,
        *,
        kind: str,
        build: AppBuilder,
        url_path: str = "",
        max_body: int = MAX_BODY_BYTES,
        log: RequestLog | None = None,
    ) -> None:
        self.config = config
        self.kind = kind
        self._build = build
        self._url_path = url_path
        self._max_body = max_body
        self._log = log

    async def serve(
        self, jar: Jar, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serves ``jar`` until cancelled; reports the URL clients use once it listens.

        Raises:
            TransportError: the address cannot be bound, or uvicorn did not start.
        """
        sock = listen(self.config.host, self.config.port, what=f"the {self.kind} endpoint")
        port = sock.getsockname()[1]
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        url = f"http://{host}:{port}{self._url_path}"
        state = EndpointState(jar=jar, config=self.config, kind=self.kind, max_body=self._max_body)
        app = self._build(state)
        if self._log is not None:
            app = _Logged(app, kind=self.kind, log=self._log)
        settled = anyio.Event()  # uvicorn listens, or gave up
        stopped = anyio.Event()
        server = QuietUvicorn(_uvicorn_config(app), on_started=settled.set)
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

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                try:
                    with anyio.fail_after(STARTUP_TIMEOUT):
                        await settled.wait()
                    if stopped.is_set() or not server.started:
                        why = f": {failures[0]}" if failures else ""
                        raise TransportError(
                            f"the {self.kind} endpoint on {url} did not start{why}"
                        )
                    task_status.started(url)
                    await stopped.wait()
                    why = f": {failures[0]}" if failures else ""
                    raise TransportError(f"the {self.kind} endpoint on {url} stopped{why}")
                finally:
                    with anyio.CancelScope(shield=True):
                        state.draining = True
                        server.should_exit = True
                        run_scope.deadline = anyio.current_time() + STOP_GRACE + STOP_MARGIN
                        with anyio.move_on_after(STOP_GRACE + 2 * STOP_MARGIN):
                            await stopped.wait()
                        _close_connections(server)
        finally:
            sock.close()


def _uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        http="h11",
        ws="none",
        log_config=None,
        log_level=logging.WARNING,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(STOP_GRACE),
        timeout_keep_alive=KEEP_ALIVE,
    )


def _close_connections(server: uvicorn.Server) -> None:
    """Closes connections uvicorn left open when it was cut off."""
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if transport is not None:
            transport.close()


class _Logged:
    """Calls the request log with one record per HTTP request, after it ends."""

    def __init__(self, app: ASGIApp, *, kind: str, log: RequestLog) -> None:
        self.app = app
        self.kind = kind
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record: dict[str, Any] = {
            "endpoint": self.kind,
            "method": scope["method"],
            "path": scope["path"],
            "status": None,
        }
        scope[LOG_KEY] = record
        began = time.perf_counter()

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            record["seconds"] = round(time.perf_counter() - began, 6)
            try:
                self.log(record)
            except Exception:
                log.exception("the request log of the %s endpoint failed", self.kind)
