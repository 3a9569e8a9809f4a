"""One connection to an MCP server, of either protocol era, and the words for what failed.

``hold_session`` opens the SDK's ``Client`` in ``auto`` mode: it probes
``server/discover`` (the 2026-07-28 revision: stateless requests, no
``initialize``) and falls back to the ``initialize`` handshake on older
servers. It reports the client and the first tool listing through
``task_status`` and holds the connection until it is lost. Tool-list changes
arrive as ``notifications/tools/list_changed`` on a handshake connection and on
a ``subscriptions/listen`` stream on a 2026-07-28 one. A handshake
connection is pinged; a 2026-07-28 one, which has no ping, is asked
``server/discover`` as often instead: how a server that stopped answering is
noticed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, TextIO

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskStatus
from mcp.client.client import Client
from mcp.client.session import ClientSession, IncomingMessage, LoggingFnT, MessageHandlerFnT
from mcp.client.subscriptions import SubscriptionLost
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ._streams import WatchedReadStream

__all__ = [
    "TRANSPORT_ERRORS",
    "brainjar_version",
    "hold_session",
    "is_modern",
    "is_session_gone",
    "is_timeout",
    "list_tools",
    "stderr",
    "stop_supervisor",
    "why",
]

log = logging.getLogger("brainjar.mcp")

# The most pages of tools/list we follow.
MAX_PAGES = 100
# The level of the upstream's log messages brainjar asks for; the gateway filters
# them by what its own client asked for.
UPSTREAM_LOG_LEVEL: types.LoggingLevel = "debug"

TRANSPORT_ERRORS = (
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


def is_modern(client: Client) -> bool:
    """The connection speaks the 2026-07-28 revision (or later), not the handshake era."""
    return client.protocol_version in MODERN_PROTOCOL_VERSIONS


async def hold_session(
    transport: AbstractAsyncContextManager[Any],
    *,
    on_end: Callable[[], None],
    lost: anyio.Event,
    lose: Callable[[str], None],
    publish: Callable[[list[types.Tool]], None],
    name: str,
    on_message: MessageHandlerFnT,
    on_log: LoggingFnT,
    client_info: types.Implementation,
    ping_interval: float,
    ping_limit: float,
    task_status: TaskStatus[tuple[Client, list[types.Tool]]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Connects, reports ``(client, tools)``, and holds the connection until ``lost`` is set.

    Args:
        transport: the transport's context manager (it yields the two streams).
        on_end: called when the transport's read stream ends.
        lost: set (by anyone) when the connection is over.
        lose: ends the connection, saying why (a dropped listen stream, an unanswered ping).
        publish: given the tool list again each time the server says it changed.
        name: the server's name, for messages.
        on_message: every notification or transport error the server sends.
        on_log: the server's log messages.
        client_info: how brainjar names itself.
        ping_interval: how often a handshake-era connection is pinged.
        ping_limit: how long a ping may take before the connection counts as lost.
    """
    changes = _Changes()

    async def on_incoming(message: IncomingMessage) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.set()
        await on_message(message)

    client = Client(
        _watched(transport, on_end=on_end),
        mode="auto",
        cache=None,  # the tool list is brainjar's own cache, refreshed on change
        message_handler=on_incoming,
        logging_callback=on_log,
        log_level=UPSTREAM_LOG_LEVEL,  # a 2026-07-28 server logs only when asked per request
        client_info=client_info,
    )
    async with client, anyio.create_task_group() as tg:
        modern = is_modern(client)
        if modern and _serves_tool_changes(client):
            # Listen before listing, so no change between the two is missed.
            await tg.start(_listen, client, changes.set, lose)
        elif not modern and client.server_capabilities.logging is not None:
            await _ask_for_logs(client.session)
        tools = await list_tools(client.session)
        task_status.started((client, tools))
        tg.start_soon(_keep_listing, client, changes, publish, lose, name, ping_limit)
        tg.start_soon(_keep_pinging, client, lose, ping_interval, ping_limit)
        await lost.wait()
        tg.cancel_scope.cancel()


async def list_tools(session: ClientSession) -> list[types.Tool]:
    """Every page of ``tools/list``."""
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


class _Changes:
    """Whether the server said its tool list changed since it was last listed."""

    def __init__(self) -> None:
        self.event = anyio.Event()

    def set(self) -> None:
        self.event.set()

    async def wait(self) -> None:
        await self.event.wait()
        self.event = anyio.Event()


async def _keep_listing(
    client: Client,
    changes: _Changes,
    publish: Callable[[list[types.Tool]], None],
    lose: Callable[[str], None],
    name: str,
    limit: float,
) -> None:
    """Lists the tools again each time the server says they changed."""
    while True:
        await changes.wait()
        try:
            with anyio.fail_after(limit):
                tools = await list_tools(client.session)
        except TimeoutError:
            lose(f"it did not answer tools/list within {limit:g}s")
            return
        except MCPError as exc:
            if is_session_gone(exc):
                lose("it no longer knows the session")
                return
            log.warning("%s: tools/list failed: %s", name, exc.error.message)
            continue
        publish(tools)
        log.info("%s: the tool list changed: %d tools", name, len(tools))


def _serves_tool_changes(client: Client) -> bool:
    tools = client.server_capabilities.tools
    return tools is not None and bool(tools.list_changed)


async def _listen(
    client: Client,
    changed: Callable[[], None],
    lose: Callable[[str], None],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Follows the ``subscriptions/listen`` stream; its end is the connection's end."""
    try:
        async with client.listen(tools_list_changed=True) as subscription:
            task_status.started()
            async for _event in subscription:
                changed()
    except (SubscriptionLost, MCPError, *TRANSPORT_ERRORS) as exc:
        lose(f"its subscriptions/listen stream dropped ({why(exc)})")
        return
    lose("it closed its subscriptions/listen stream")


async def _ask_for_logs(session: ClientSession) -> None:
    """Asks a handshake-era server for its log messages (``logging/setLevel``).

    Sent as a plain request: the SDK's helper warns that the capability is
    deprecated from 2026-07-28, which does not concern a handshake connection.
    """
    request = types.SetLevelRequest(params=types.SetLevelRequestParams(level=UPSTREAM_LOG_LEVEL))
    with suppress(MCPError):  # logs are a courtesy; the tools work without them
        await session.send_request(request, types.EmptyResult)


async def _keep_pinging(
    client: Client, lose: Callable[[str], None], interval: float, limit: float
) -> None:
    session = client.session
    version = client.protocol_version
    modern = is_modern(client)
    while True:
        await anyio.sleep(interval)
        try:
            with anyio.fail_after(limit):
                if modern:
                    await session.send_discover(version)
                else:
                    await session.send_ping()
        except (TimeoutError, MCPError, *TRANSPORT_ERRORS) as exc:
            lose(f"it did not answer a ping ({why(exc)})")
            return


@asynccontextmanager
async def _watched(
    transport: AbstractAsyncContextManager[Any], *, on_end: Callable[[], None]
) -> AsyncIterator[Any]:
    async with transport as (read, write):
        yield WatchedReadStream(read, on_end=on_end), write


def is_session_gone(exc: MCPError) -> bool:
    """The server refused a request because it does not know the session."""
    message = exc.error.message.lower()
    return exc.error.code in _SESSION_GONE_CODES and any(w in message for w in _SESSION_GONE)


def is_timeout(exc: BaseException) -> bool:
    """``exc`` is (or holds) a ``TimeoutError``."""
    if isinstance(exc, BaseExceptionGroup):
        return any(is_timeout(e) for e in exc.exceptions)
    return isinstance(exc, TimeoutError)


def why(exc: BaseException) -> str:
    """What went wrong, in words."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return why(exc.exceptions[0])
    if isinstance(exc, MCPError):
        return exc.error.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def stderr() -> TextIO:
    """This process's stderr, or the original one when it has been replaced by a fake."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr


def stop_supervisor(task_group: anyio.abc.TaskGroup) -> None:
    """Cancels the supervisor; shields the group's own scope (a new scope around its
    exit would break LIFO order) so a cancellation from outside cannot cut the
    servers' orderly stop short."""
    task_group.cancel_scope.cancel()
    task_group.cancel_scope.shield = True


def brainjar_version() -> str:
    """This brainjar's version, as it names itself to servers."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("brainjar")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"
