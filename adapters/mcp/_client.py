"""MCP servers as tools: one long-lived, supervised session per server.

A ``McpSource`` keeps one session open for the life of the jar, so a stateful
server keeps its state from call to call. A supervisor task connects, lists the
tools, and waits for the connection to end (the server exited, stopped
answering pings, or dropped the HTTP session); then it connects again after an
exponentially growing pause. The tools of the last good listing stay offered
while it reconnects: a call made then waits for the new session up to the
server's limit, and a call in flight when the server goes away ends in a tool
error the model reads. A call the server refused because it no longer knows
the session (an HTTP server that restarted answers 404) never ran: it is made
again, once, on a new session.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TextIO

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from brainjar._errors import ToolError
from brainjar.tools import ChangeSignal, Signalled, Tool, ToolResult

from ._content import to_tool_result
from ._streams import WatchedReadStream
from ._transport import Refusal, display_url, http_transport, redact, refusal, server_environment

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
# The most pages of tools/list we follow.
MAX_PAGES = 100

_TRANSPORT_ERRORS = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    OSError,
    httpx2.TransportError,
)
# How a server says it does not know the session: the MCP SDKs' codes and words for a 404
# (Python: invalid request; TypeScript: -32001).
_SESSION_GONE_CODES = (types.INVALID_REQUEST, -32001)
_SESSION_GONE = ("session not found", "session terminated", "session has been terminated")


class _SessionGone(Exception):
    """The server refused a request because it no longer knows the session."""


@dataclass(frozen=True, kw_only=True)
class McpServer:
    """Where an MCP server is: a command to run (stdio) or a URL (streamable HTTP, SSE).

    Attributes:
        command: the program and its first arguments.
        args: more arguments.
        env: variables for the server's environment (a stdio server's), on top of
            the MCP SDK's safe default (``PATH``, ``HOME``, ``USER``, ...).
        env_passthrough: names of this process's variables to pass to a stdio server.
        inherit_env: pass this process's whole environment to a stdio server.
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
    env_passthrough: Sequence[str] = ()
    inherit_env: bool = False
    cwd: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    transport: Literal["stdio", "http", "sse"] | None = None
    name: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs either a command or a url, not both")


class McpSource(Signalled):
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
                # Set only when a session is up or an attempt ends (see _lose).
                await self._connected.wait()
        return self._session is not None

    def _lose(self, lost: anyio.Event) -> None:
        """Ends the session (or attempt) that ``lost`` belongs to.

        The session is forgotten at once, and a ``_connected`` that was set for
        it is replaced by a fresh event, set when the next session is up or this
        attempt ends: a waiter blocks while the old transport closes, instead of
        finding the old, already-set event again and again.
        """
        if lost is self._lost:
            self._session = None
            if self._connected.is_set():
                self._connected = anyio.Event()
        lost.set()

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
                        "%s: cannot connect (%s); retrying in %gs",
                        self.name,
                        self._why(exc),
                        delay,
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
        lost = self._lost = anyio.Event()
        self._refresh = anyio.Event()

        def lose() -> None:
            self._lose(lost)

        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(self._transport(on_session_gone=lose))
            read = WatchedReadStream(read, on_end=lose)
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
                tg.start_soon(self._keep_listing, session, lost)
                tg.start_soon(self._keep_pinging, session, lost)
                await lost.wait()
                tg.cancel_scope.cancel()
            log.warning("%s: the connection ended; reconnecting", self.name)
        return True

    def _transport(
        self, *, on_session_gone: Callable[[], None]
    ) -> AbstractAsyncContextManager[Any]:
        config = self.config
        if config.command is not None:
            params = StdioServerParameters(
                command=config.command[0],
                args=[*config.command[1:], *config.args],
                env=server_environment(
                    config.env, passthrough=config.env_passthrough, inherit=config.inherit_env
                ),
                cwd=config.cwd,
            )
            return stdio_client(params, errlog=self.errlog or _stderr())
        assert config.url is not None
        if config.transport == "sse":
            return sse_client(config.url, headers=dict(config.headers), timeout=config.timeout)
        return http_transport(
            config.url,
            headers=dict(config.headers),
            connect_limit=config.timeout,
            on_session_gone=on_session_gone,
        )

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
            log.debug("%s: transport reported %s", self.name, self._why(message))

    async def _keep_listing(self, session: ClientSession, lost: anyio.Event) -> None:
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
                self._lose(lost)
                return
            except MCPError as exc:
                if _is_session_gone(exc):
                    self._lose(lost)
                    return
                log.warning("%s: tools/list failed: %s", self.name, exc.error.message)
                continue
            self._publish(tools)
            log.info("%s: the tool list changed: %d tools", self.name, len(tools))

    async def _keep_pinging(self, session: ClientSession, lost: anyio.Event) -> None:
        while True:
            await anyio.sleep(PING_INTERVAL)
            try:
                with anyio.fail_after(self.config.timeout):
                    await session.send_ping()
            except (TimeoutError, MCPError, *_TRANSPORT_ERRORS) as exc:
                log.warning("%s did not answer a ping (%s)", self.name, self._why(exc))
                self._lose(lost)
                return

    # Calls

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        """Calls one of the server's tools on the live session.

        A call the server refused because it no longer knows the session (it
        restarted) did not run; it is made again, once, on a new session.

        Raises:
            ToolError: there is no session within the server's timeout, the
                server went away during the call, or it refused the call.
        """
        try:
            return await self._call_once(tool, arguments)
        except _SessionGone:
            log.info("%s no longer knows the session; calling %s on a new one", self.name, tool)
        try:
            return await self._call_once(tool, arguments)
        except _SessionGone as exc:
            raise ToolError(
                f"{self.name} refused the call to {tool} twice: it does not know the session "
                "brainjar opened a moment ago (is it restarting?); the tool did not run, "
                "try again later"
            ) from exc

    async def _call_once(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        if self._session is None and not await self.wait_connected():
            raise ToolError(
                f"{self.name} is not connected (brainjar keeps trying to reach it); "
                f"{tool} cannot run now"
            )
        session = self._session
        lost = self._lost
        assert session is not None
        mark = Refusal()
        token = refusal.set(mark)
        try:
            result = await session.call_tool(tool, arguments)
        except MCPError as exc:
            # A refused call may see the session close before its own error arrives.
            if mark.refused or _is_session_gone(exc):
                self._lose(lost)
                raise _SessionGone(exc.error.message) from exc
            if exc.error.code == types.CONNECTION_CLOSED:
                self._lose(lost)
                raise ToolError(
                    f"{self.name} went away during the call to {tool}; it is being restarted"
                ) from exc
            raise ToolError(f"{tool} failed: {self._why(exc)}") from exc
        except _TRANSPORT_ERRORS as exc:
            self._lose(lost)
            raise ToolError(
                f"{self.name} went away during the call to {tool} ({self._why(exc)}); "
                "it is being restarted"
            ) from exc
        finally:
            refusal.reset(token)
        return to_tool_result(result)

    def _why(self, exc: BaseException) -> str:
        """What went wrong, in words, without the secrets of the server's URL."""
        return redact(_why(exc), self.config.url)


def _short_name(config: McpServer) -> str:
    if config.name:
        return config.name
    if config.command:
        return Path(config.command[0]).name
    return display_url(config.url or "") or "remote"


def _is_session_gone(exc: MCPError) -> bool:
    message = exc.error.message.lower()
    return exc.error.code in _SESSION_GONE_CODES and any(w in message for w in _SESSION_GONE)


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
