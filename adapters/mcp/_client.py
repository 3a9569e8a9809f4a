"""MCP servers as tools: one long-lived, supervised session per server.

A ``McpSource`` keeps one session open for the life of the jar, so a stateful
server keeps its state from call to call. A supervisor task connects, lists the
tools, and waits for the connection to end (the server exited, stopped
answering pings, or dropped the HTTP session); then it connects again after an
exponentially growing pause. The tools of the last good listing stay offered
while it reconnects: a call made then waits for the new session up to the
server's limit, and a call in flight when the server goes away ends in a tool
error the model reads.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TextIO
from urllib.parse import urlsplit

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from brainjar._errors import ToolError
from brainjar.tools import ChangeSignal, Tool, ToolResult

from ._content import to_tool_result
from ._streams import WatchedReadStream

__all__ = ["McpServer", "McpSource"]

log = logging.getLogger("brainjar.mcp")

# The pause before the first reconnection; it doubles up to BACKOFF_MAX.
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 30.0
# How often a live session is pinged; a ping that is not answered within the
# server's timeout ends the session (how a remote server's drop is noticed).
PING_INTERVAL = 10.0
# Headroom for __aenter__ beyond the server's own timeout.
ENTER_MARGIN = 1.0
# How long an HTTP response may stay silent (a slow tool; the loop limits calls).
HTTP_READ_LIMIT = 300.0
# The most pages of tools/list we follow.
MAX_PAGES = 100

_TRANSPORT_ERRORS = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    OSError,
    httpx2.TransportError,
)


@dataclass(frozen=True, kw_only=True)
class McpServer:
    """Where an MCP server is: a command to run (stdio) or a URL (streamable HTTP, SSE).

    Attributes:
        command: the program and its first arguments.
        args: more arguments.
        env: variables for the server's environment.
        cwd: the server's working directory.
        url: the server's URL.
        headers: HTTP headers to send (e.g. ``Authorization``).
        transport: ``stdio``, ``http`` or ``sse``; default: stdio for a command, http for a URL.
        name: for messages and ``brainjar tools``.
        timeout: seconds allowed for initialize and tools/list (and to wait for a session).
    """

    command: Sequence[str] | None = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    transport: Literal["stdio", "http", "sse"] | None = None
    name: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs either a command or a url, not both")


class McpSource:
    """The tools of one MCP server (stdio, streamable HTTP or SSE).

    Entering waits for the first connection up to ``config.timeout``; a server
    that is not up by then is reported and retried in the background, and its
    tools join when it comes.

    Args:
        config: where the server is.
        errlog: where a stdio server's stderr goes; default: this process's stderr.
    """

    def __init__(self, config: McpServer, *, errlog: TextIO | None = None) -> None:
        self.config = config
        self.errlog = errlog
        self._tools: list[Tool] = []
        self._changes = ChangeSignal()
        self._session: ClientSession | None = None
        self._connected = anyio.Event()
        self._lost = anyio.Event()
        self._refresh = anyio.Event()
        self._first_attempt = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self.connections = 0  # how many sessions were opened so far, for tests and `tools`

    @property
    def name(self) -> str:
        return f"mcp:{_short_name(self.config)}"

    @property
    def connected(self) -> bool:
        """A session is open now."""
        return self._session is not None

    def tools(self) -> Sequence[Tool]:
        return self._tools

    @property
    def version(self) -> int:
        return self._changes.version

    async def wait_changed(self, seen: int) -> int:
        return await self._changes.wait(seen)

    async def __aenter__(self) -> Self:
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        task_group.start_soon(self._supervise)
        with anyio.move_on_after(self.config.timeout + ENTER_MARGIN):
            await self._first_attempt.wait()
        if self._session is None:
            log.warning(
                "%s is not up yet; brainjar keeps trying in the background and its "
                "tools join when it answers",
                self.name,
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        task_group.cancel_scope.cancel()
        # Shield the group's own scope (a new scope around it would break LIFO exit)
        # so a cancellation from outside cannot cut the servers' orderly stop short.
        task_group.cancel_scope.shield = True
        await task_group.__aexit__(None, None, None)
        self._tools = []
        self._changes.bump()

    async def wait_connected(self, *, limit: float | None = None) -> bool:
        """Waits for a session, up to ``limit`` seconds (default: the server's
        timeout); says whether there is one."""
        with anyio.move_on_after(self.config.timeout if limit is None else limit):
            while self._session is None:
                await self._connected.wait()
        return self._session is not None

    # The supervisor

    async def _supervise(self) -> None:
        delay = BACKOFF_INITIAL
        while True:
            try:
                if await self._connect_once():
                    delay = BACKOFF_INITIAL  # it came up: the next failure starts over
            except Exception as exc:  # every failure of a connection ends in a retry
                if _is_timeout(exc):
                    log.warning(
                        "%s did not answer initialize and tools/list within %gs "
                        "(its timeout); retrying in %gs",
                        self.name,
                        self.config.timeout,
                        delay,
                    )
                else:
                    log.warning(
                        "%s: cannot connect (%s); retrying in %gs", self.name, _why(exc), delay
                    )
            finally:
                self._session = None
                # Wake whoever waits on this attempt; they wait again on the next one.
                ended, self._connected = self._connected, anyio.Event()
                ended.set()
                self._first_attempt.set()
            await anyio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _connect_once(self) -> bool:
        """Opens one session and holds it until it ends; True if it got as far as its tools."""
        self._lost = anyio.Event()
        self._refresh = anyio.Event()
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(self._transport())
            read = WatchedReadStream(read, on_end=self._lost.set)
            session = await stack.enter_async_context(
                ClientSession(
                    read,
                    write,
                    message_handler=self._on_message,
                    client_info=types.Implementation(name="brainjar", version=_version()),
                )
            )
            with anyio.fail_after(self.config.timeout):
                await session.initialize()
                tools = await self._list_tools(session)
            self._publish(tools)
            self._session = session
            self.connections += 1
            self._connected.set()
            self._first_attempt.set()
            log.info("%s connected: %d tools", self.name, len(tools))
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_listing, session)
                tg.start_soon(self._keep_pinging, session)
                await self._lost.wait()
                tg.cancel_scope.cancel()
            self._session = None
            log.warning("%s: the connection ended; reconnecting", self.name)
        return True

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        config = self.config
        if config.command is not None:
            params = StdioServerParameters(
                command=config.command[0],
                args=[*config.command[1:], *config.args],
                # The whole environment, as a shell would pass it, plus the entry's env.
                env={**os.environ, **config.env},
                cwd=config.cwd,
            )
            return stdio_client(params, errlog=self.errlog or _stderr())
        assert config.url is not None
        if config.transport == "sse":
            return sse_client(config.url, headers=dict(config.headers), timeout=config.timeout)
        return _http_client(config.url, headers=dict(config.headers), connect_limit=config.timeout)

    async def _list_tools(self, session: ClientSession) -> list[types.Tool]:
        found: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            found.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    def _publish(self, listed: Sequence[types.Tool]) -> None:
        self._tools = [self._tool(t) for t in listed]
        self._changes.bump()

    def _tool(self, listed: types.Tool) -> Tool:
        remote_name = listed.name

        async def call(arguments: dict[str, Any]) -> ToolResult:
            return await self.call(remote_name, arguments)

        return Tool(
            name=listed.name,
            description=listed.description or listed.title or listed.name,
            parameters=dict(listed.input_schema or {"type": "object", "properties": {}}),
            call=call,
            source=self.name,
        )

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._refresh.set()
        elif isinstance(message, Exception):
            log.debug("%s: transport reported %s", self.name, _why(message))

    async def _keep_listing(self, session: ClientSession) -> None:
        while True:
            await self._refresh.wait()
            self._refresh = anyio.Event()
            try:
                with anyio.fail_after(self.config.timeout):
                    tools = await self._list_tools(session)
            except TimeoutError:
                log.warning(
                    "%s did not answer tools/list within %gs", self.name, self.config.timeout
                )
                self._lost.set()
                return
            except MCPError as exc:
                log.warning("%s: tools/list failed: %s", self.name, exc.error.message)
                continue
            self._publish(tools)
            log.info("%s: the tool list changed: %d tools", self.name, len(tools))

    async def _keep_pinging(self, session: ClientSession) -> None:
        while True:
            await anyio.sleep(PING_INTERVAL)
            try:
                with anyio.fail_after(self.config.timeout):
                    await session.send_ping()
            except (TimeoutError, MCPError, *_TRANSPORT_ERRORS) as exc:
                log.warning("%s did not answer a ping (%s)", self.name, _why(exc))
                self._lost.set()
                return

    # Calls

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Calls one of the server's tools on the live session.

        Raises:
            ToolError: there is no session within the server's timeout, the
                server went away during the call, or it refused the call.
        """
        if self._session is None and not await self.wait_connected():
            raise ToolError(
                f"{self.name} is not connected (brainjar keeps trying to reach it); "
                f"{tool} cannot run now"
            )
        session = self._session
        lost = self._lost
        assert session is not None
        try:
            result = await session.call_tool(tool, arguments)
        except MCPError as exc:
            if exc.error.code == types.CONNECTION_CLOSED or "terminated" in exc.error.message:
                lost.set()
                raise ToolError(
                    f"{self.name} went away during the call to {tool}; it is being restarted"
                ) from exc
            raise ToolError(f"{tool} failed: {exc.error.message}") from exc
        except _TRANSPORT_ERRORS as exc:
            lost.set()
            raise ToolError(
                f"{self.name} went away during the call to {tool} ({_why(exc)}); "
                "it is being restarted"
            ) from exc
        return to_tool_result(result)


@asynccontextmanager
async def _http_client(
    url: str, *, headers: dict[str, str], connect_limit: float
) -> AsyncIterator[Any]:
    # A tool may take long to answer; the loop limits calls itself.
    read_limit = max(connect_limit, HTTP_READ_LIMIT)
    client = create_mcp_http_client(
        headers=headers, timeout=httpx2.Timeout(connect_limit, read=read_limit)
    )
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams


def _short_name(config: McpServer) -> str:
    if config.name:
        return config.name
    if config.command:
        return Path(config.command[0]).name
    return urlsplit(config.url or "").netloc or "remote"


def _stderr() -> TextIO:
    """This process's stderr, or the original one when it has been replaced by a fake."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_timeout(e) for e in exc.exceptions)
    return isinstance(exc, TimeoutError)


def _why(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return _why(exc.exceptions[0])
    if isinstance(exc, MCPError):
        return exc.error.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("brainjar")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"
