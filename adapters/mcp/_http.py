"""Serving an ``McpGateway`` over stdio or streamable HTTP.

Over HTTP, ``brainjar.http.Guard`` checks Host, Origin and the bearer token (the
SDK's own DNS-rebinding check is off: the guard is the same or stricter), and
``brainjar.http.serve_asgi`` runs uvicorn and stops it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from brainjar.http import CLOSE_GRACE, Guard, serve_and_drain
from brainjar.protocols import ToolSource
from brainjar.tools import Tool, ToolPolicy

from ._drain import Drain
from ._server import McpGateway, build_mcp_server

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["serve_http", "serve_stdio", "serve_tools_http"]

log = logging.getLogger("brainjar.mcp.server")

# How long clients' requests in flight may run on when the server stops.
GRACEFUL_SHUTDOWN = 2.0


async def serve_stdio(
    gateway: McpGateway,
    *,
    stdin: anyio.AsyncFile[str] | None = None,
    stdout: anyio.AsyncFile[str] | None = None,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves the gateway on this process's stdin and stdout until stdin ends.

    Without explicit streams, fd 1 points at stderr while it serves (the SDK
    does this), so nothing but the protocol reaches stdout.
    """
    streams = stdio_server(stdin, stdout)
    async with streams as (read, write), anyio.create_task_group() as tg:
        await tg.start(gateway.watch_tools)
        task_status.started("stdio")
        await gateway.server.run(read, write, gateway.initialization_options())
        tg.cancel_scope.cancel()


async def serve_http(
    gateway: McpGateway,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/mcp",
    token: str | None = None,
    grace: float = GRACEFUL_SHUTDOWN,
    metrics: CollectorRegistry | None = None,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves the gateway over MCP streamable HTTP until cancelled.

    Reports ``http://host:port/path`` through ``task_status`` once it listens.
    Cancelled, it drains: new requests get 503, requests in flight get ``grace``
    seconds to finish, and those still running then end with a JSON-RPC error.

    Args:
        gateway: what to serve.
        host: where to listen; loopback by default.
        port: 0 picks a free port.
        path: the MCP endpoint's path.
        token: when given, requests must carry ``Authorization: Bearer <token>``.
        grace: seconds requests in flight may take to finish once cancelled.
        metrics: served as ``GET /metrics`` beside the MCP path (also while draining).

    A request's ``traceparent`` header (and a call's ``_meta.traceparent``) becomes
    the parent of what it runs while tracing is on. On a loopback ``host``, the Host
    header must be a loopback name and a request with an Origin header must come
    from a loopback page (403 otherwise).
    """
    from brainjar.observe import Observed

    # The SDK still refuses a POST that is not JSON; Host and Origin are the guard's.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    manager = StreamableHTTPSessionManager(app=gateway.server, security_settings=security)
    drain = Drain(_OnlyPath(StreamableHTTPASGIApp(manager), path=path), name=gateway.server.name)
    app: ASGIApp = Guard(Observed(drain, registry=metrics), bound_host=host, token=token)

    @asynccontextmanager
    async def sessions() -> AsyncIterator[None]:
        async with manager.run(), anyio.create_task_group() as tg:
            await tg.start(gateway.watch_tools)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def finish() -> None:
        with anyio.move_on_after(grace):
            await drain.wait_idle()
        if drain.running:
            log.warning(
                "%s cuts off %d requests still running after its grace of %gs",
                gateway.server.name,
                drain.running,
                grace,
            )
            drain.cut_off()
            with anyio.move_on_after(CLOSE_GRACE):
                await drain.wait_idle()

    def begin() -> None:
        drain.draining = True

    await serve_and_drain(
        app,
        host=host,
        port=port,
        what="the MCP endpoint",
        url_path=path,
        around=sessions,
        begin_drain=begin,
        drain=finish,
        task_status=task_status,
    )


async def serve_tools_http(
    tools: ToolSource | Callable[[], Sequence[Tool]],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/mcp",
    name: str = "brainjar-tools",
    version: str = "",
    token: str | None = None,
    policy: ToolPolicy | None = None,
    grace: float = GRACEFUL_SHUTDOWN,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves a plain list of tools (no model, no ask tool) over MCP streamable HTTP.

    ``tools`` (a source, or a function) is read at every request, so the list may
    change while it serves; ``policy`` limits each call.
    Reports its URL through ``task_status``; runs until cancelled.
    """
    gateway = build_mcp_server(tools, name=name, version=version, policy=policy)
    await serve_http(
        gateway,
        host=host,
        port=port,
        path=path,
        token=token,
        grace=grace,
        task_status=task_status,
    )


class _OnlyPath:
    """The MCP app at one path; 404 elsewhere."""

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path.rstrip("/") or "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"].rstrip("/") or "/") != self.path:
            await _plain(send, 404, f"not found; the MCP endpoint is {self.path}")
            return
        await self.app(scope, receive, send)


async def _plain(send: Send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
