"""Serving an ``McpGateway`` over stdio or streamable HTTP."""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Callable, Sequence

import anyio
import uvicorn
from anyio.abc import TaskStatus
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from brainjar.http._listen import QuietUvicorn, listen
from brainjar.protocols import ToolSource
from brainjar.tools import Tool, ToolPolicy

from ._server import McpGateway, build_mcp_server

__all__ = ["serve_http", "serve_stdio", "serve_tools_http"]

log = logging.getLogger("brainjar.mcp.server")

# How long clients' requests in flight may run on when the server stops.
GRACEFUL_SHUTDOWN = 2
# How long uvicorn may take to stop once asked, before it is forced.
SHUTDOWN_LIMIT = 5.0
# The listening socket's queue.
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves the gateway over MCP streamable HTTP until cancelled.

    Reports ``http://host:port/path`` through ``task_status`` once it listens.

    Args:
        gateway: what to serve.
        host: where to listen; loopback by default.
        port: 0 picks a free port.
        path: the MCP endpoint's path.
        token: when given, requests must carry ``Authorization: Bearer <token>``.
    """
    security = None
    if host in _LOOPBACK:  # a page in a browser must not reach a loopback server
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    manager = StreamableHTTPSessionManager(app=gateway.server, security_settings=security)
    app: ASGIApp = _OnlyPath(StreamableHTTPASGIApp(manager), path=path)
    if token is not None:
        app = _BearerToken(app, token=token)
    with contextlib.closing(listen(host, port, what="MCP endpoint")) as sock:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        url = f"http://{shown}:{bound_port}{path}"
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        server = QuietUvicorn(config, on_started=lambda: task_status.started(url))
        async with manager.run(), anyio.create_task_group() as tg:
            await tg.start(gateway.watch_tools)
            try:
                await server.serve(sockets=[sock])
            finally:
                # Cancelled: uvicorn's serve() skips its own shutdown, so run it here.
                with anyio.CancelScope(shield=True), anyio.move_on_after(SHUTDOWN_LIMIT):
                    server.should_exit = True
                    if server.started:
                        await server.shutdown()
                tg.cancel_scope.cancel()


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
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves a plain list of tools (no model, no ask tool) over MCP streamable HTTP.

    ``tools`` (a source, or a function) is read at every request, so the list may
    change while it serves; ``policy`` limits each call.
    Reports its URL through ``task_status``; runs until cancelled.
    """
    gateway = build_mcp_server(tools, name=name, version=version, policy=policy)
    await serve_http(gateway, host=host, port=port, path=path, token=token, task_status=task_status)


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


class _BearerToken:
    """Refuses HTTP requests without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _plain(send, 401, "a bearer token is required", bearer=True)
                return
        await self.app(scope, receive, send)


async def _plain(send: Send, status: int, text: str, *, bearer: bool = False) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
