"""MCP servers as tools: one long-lived, supervised connection per server.

A ``McpSource`` keeps one connection open for the life of the jar, so a stateful
server keeps its state from call to call. It speaks both protocol eras: the
SDK's client probes ``server/discover`` (2026-07-28) and falls back to the
``initialize`` handshake (see ``_session``). A supervisor task connects, lists
the tools, and waits for the connection to end (the server exited, stopped
answering pings, dropped its listen stream or the HTTP session); then it
connects again after an exponentially growing pause. The tools of the last good
listing stay offered while it reconnects: a call made then waits for the new
connection up to the server's limit, and a call in flight when the server goes
away ends in a tool error the model reads. A call the server refused because it
no longer knows the session (an HTTP server that restarted answers 404) never
ran: it is made again, once, on a new session.

The calls themselves are ``_calls``; opening one connection is ``_session``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from functools import partial
from types import TracebackType
from typing import Any, Self, TextIO

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.client.session import IncomingMessage

from brainjar._errors import ToolError
from brainjar.tools import CallReporter, ChangeSignal, Signalled, Tool, ToolResult, current_reporter

from ._calls import SessionGone, call_on
from ._config import McpServer, open_transport, short_name
from ._content import from_listed_tool
from ._session import (
    brainjar_version,
    hold_session,
    is_timeout,
    stderr,
    stop_supervisor,
    why,
)
from ._transport import redact

__all__ = ["McpServer", "McpSource"]

log = logging.getLogger("brainjar.mcp")

# The pause before the first reconnection; it doubles up to BACKOFF_MAX.
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 30.0
# How often a live handshake-era session is pinged; a ping that is not answered
# within the server's timeout ends the session (how a remote server's drop is noticed).
PING_INTERVAL = 10.0
# Headroom for __aenter__ beyond the server's own timeout.
ENTER_MARGIN = 1.0


class _Reported(Exception):
    """A connection attempt failed, and that was logged."""


class McpSource(Signalled):
    """The tools of one MCP server (stdio, streamable HTTP or SSE), of either protocol era.

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
        self._client: Client | None = None
        self._connected = anyio.Event()
        self._lost = anyio.Event()
        self._first_attempt = anyio.Event()
        self._stack: AsyncExitStack | None = None
        self._reporters: set[CallReporter] = set()  # of the calls in flight
        self.connections = 0  # how many sessions were opened so far, for tests and `tools`

    @property
    def name(self) -> str:
        return f"mcp:{short_name(self.config)}"

    @property
    def connected(self) -> bool:
        """A session is open now."""
        return self._client is not None

    @property
    def protocol_version(self) -> str | None:
        """The protocol version of the open session (``2026-07-28``, ``2025-11-25``, ...)."""
        return self._client.protocol_version if self._client is not None else None

    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            stack.callback(self._forget_tools)  # last, once the supervisor is gone
            task_group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(stop_supervisor, task_group)
            task_group.start_soon(self._supervise)
            with anyio.move_on_after(self.config.timeout + ENTER_MARGIN):
                await self._first_attempt.wait()
            self._stack = stack.pop_all()
        if self._client is None:
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
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def _forget_tools(self) -> None:
        self._tools = []
        self._changes.bump()

    async def wait_connected(self, *, limit: float | None = None) -> bool:
        """Waits for a session, up to ``limit`` seconds (default: the server's
        timeout); says whether there is one."""
        with anyio.move_on_after(self.config.timeout if limit is None else limit):
            while self._client is None:
                # Set only when a session is up or an attempt ends (see _lose).
                await self._connected.wait()
        return self._client is not None

    def _lose(self, lost: anyio.Event) -> None:
        """Ends the session (or attempt) that ``lost`` belongs to.

        The session is forgotten at once, and a ``_connected`` that was set for
        it is replaced by a fresh event, set when the next session is up or this
        attempt ends: a waiter blocks while the old transport closes, instead of
        finding the old, already-set event again and again.
        """
        if lost is self._lost:
            self._client = None
            if self._connected.is_set():
                self._connected = anyio.Event()
        lost.set()

    # The supervisor

    async def _supervise(self) -> None:
        delay = BACKOFF_INITIAL
        while True:
            try:
                if await self._connect_once(delay):
                    delay = BACKOFF_INITIAL  # it came up: the next failure starts over
            except _Reported:
                pass
            except Exception as exc:  # every failure of a connection ends in a retry
                self._report(exc, delay)
            finally:
                self._client = None
                # Wake whoever waits on this attempt; they wait again on the next one.
                ended, self._connected = self._connected, anyio.Event()
                ended.set()
                self._first_attempt.set()
            await anyio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    def _report(self, exc: Exception, delay: float) -> None:
        if is_timeout(exc):
            log.warning(
                "%s did not answer server/discover or initialize and tools/list "
                "within %gs (its timeout); retrying in %gs",
                self.name,
                self.config.timeout,
                delay,
            )
        else:
            log.warning(
                "%s: cannot connect (%s); retrying in %gs", self.name, self._why(exc), delay
            )

    async def _connect_once(self, delay: float) -> bool:
        """Opens one session and holds it until it ends; True if it got as far as its tools.

        A failure to connect is reported at once, before the transport closes
        (a stdio server takes a while to stop), and ends the first attempt.
        """
        lost = self._lost = anyio.Event()

        def lose(reason: str | None = None) -> None:
            if reason is not None and not lost.is_set():
                log.warning("%s: %s", self.name, reason)
            self._lose(lost)

        transport = open_transport(
            self.config, errlog=self.errlog or stderr(), on_session_gone=lose
        )
        hold = partial(
            hold_session,
            transport,
            on_end=lose,
            lost=lost,
            lose=lose,
            publish=self._publish,
            name=self.name,
            on_message=self._on_message,
            on_log=self._on_log,
            client_info=types.Implementation(name="brainjar", version=brainjar_version()),
            ping_interval=PING_INTERVAL,
            ping_limit=self.config.timeout,
        )
        async with anyio.create_task_group() as tg:
            up: list[tuple[Client, list[types.Tool]]] = []
            attempt_over = anyio.Event()

            async def connect() -> None:
                try:
                    up.append(await tg.start(hold))
                finally:
                    attempt_over.set()

            tg.start_soon(connect)
            with anyio.move_on_after(self.config.timeout):
                await attempt_over.wait()
            if up:
                await self._hold(*up[0], lost)
            else:  # it timed out (a failure ends the group with its exception)
                self._report(TimeoutError(), delay)
                self._first_attempt.set()
            tg.cancel_scope.cancel()
        if not up:
            raise _Reported
        log.warning("%s: the connection ended; reconnecting", self.name)
        return True

    async def _hold(self, client: Client, tools: list[types.Tool], lost: anyio.Event) -> None:
        """Offers the tools of a new session and keeps them current until it is lost."""
        self._publish(tools)
        self._client = client
        self.connections += 1
        self._connected.set()
        self._first_attempt.set()
        log.info(
            "%s connected (protocol %s): %d tools", self.name, client.protocol_version, len(tools)
        )
        await lost.wait()

    def _publish(self, listed: Sequence[types.Tool]) -> None:
        self._tools = [self._tool(t) for t in listed]
        self._changes.bump()

    def _tool(self, listed: types.Tool) -> Tool:
        remote_name = listed.name

        async def call(arguments: dict[str, Any]) -> ToolResult:
            return await self.call(remote_name, arguments)

        return from_listed_tool(listed, call=call, source=self.name)

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            log.debug("%s: transport reported %s", self.name, self._why(message))

    async def _on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Sends the server's log message to the call it belongs to.

        Where the transport delivers it in its request's context (a call's own
        HTTP stream), that call's reporter gets it; otherwise (the handshake
        era does not say which request a log message is about) every call in
        flight on this server does.
        """
        here = current_reporter()
        for reporter in [here] if here is not None else list(self._reporters):
            try:
                await reporter.log(params.level, params.data, params.logger)
            except Exception as exc:  # the caller went away: its call ends without its logs
                log.debug("%s: a log message was not passed on: %s", self.name, self._why(exc))

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
        except SessionGone:
            log.info("%s no longer knows the session; calling %s on a new one", self.name, tool)
        try:
            return await self._call_once(tool, arguments)
        except SessionGone as exc:
            raise ToolError(
                f"{self.name} refused the call to {tool} twice: it does not know the session "
                "brainjar opened a moment ago (is it restarting?); the tool did not run, "
                "try again later"
            ) from exc

    async def _call_once(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        if self._client is None and not await self.wait_connected():
            raise ToolError(
                f"{self.name} is not connected (brainjar keeps trying to reach it); "
                f"{tool} cannot run now"
            )
        client = self._client
        lost = self._lost
        assert client is not None
        return await call_on(
            client,
            tool,
            arguments,
            name=self.name,
            lose=partial(self._lose, lost),
            why=self._why,
            in_flight=self._reporters,
        )

    def _why(self, exc: BaseException) -> str:
        """What went wrong, in words, without the secrets of the server's URL."""
        return redact(why(exc), self.config.url)
