"""Tools (and, for a jar, the jar itself) offered as an MCP server.

The server answers ``tools/list`` from a callable read at every request, so it
offers whatever the jar (or tool mesh) has now: LangChain tools, the tools of
other MCP servers, discovered services. A watcher notices when that list
changes and tells clients (``notifications/tools/list_changed`` on handshake
connections, the subscription bus on 2026-07-28 connections).

Each tool is announced with every field its source gave (an upstream MCP
server's ``title``, ``outputSchema``, ``annotations``, ...), its result goes
back with every content block as it came, and the progress and log messages an
upstream sends during a call go to the client that made the call. The server
advertises ``tools.listChanged`` on every transport and both protocol eras,
because it sends the change: ``notifications/tools/list_changed`` on handshake
connections, ``subscriptions/listen`` events on 2026-07-28 ones.

With ``ask``, one more tool runs the jar's whole loop: ``ask_<jar>`` takes a
question, reports each step and tool call as progress (when the client gave a
progress token), and returns the answer. Cancelling the request cancels the loop.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskStatus
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged

from brainjar._errors import BrainjarError, ToolError
from brainjar.observe._tracing import remote_parent
from brainjar.protocols import ToolSource
from brainjar.runtime._events import (
    Answer,
    Event,
    StepStarted,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from brainjar.tools import Tool, ToolPolicy, ToolResult, apply_policy, as_source, reporting

from ._content import from_tool_result
from ._relay import ChangingServer, GatewayReporter, listed_tool

__all__ = ["AskEvents", "McpGateway", "ask_tool_name", "build_mcp_server"]

log = logging.getLogger("brainjar.mcp.server")

# How long one tools/list_changed notification may take to send to one client.
NOTIFY_LIMIT = 5.0

AskEvents = Callable[[str], AbstractAsyncContextManager[AsyncIterator[Event]]]
"""Runs one conversation and yields its events: ``Jar.events`` has this shape."""


def ask_tool_name(jar_name: str) -> str:
    """The name of the tool that asks the jar itself: ``ask_<name>``, ``-`` as ``_``."""
    return "ask_" + jar_name.replace("-", "_").replace(".", "_")


class McpGateway:
    """An MCP server (``mcp`` low-level ``Server``) over a changing set of tools.

    Build it with ``build_mcp_server``; serve it with ``serve_stdio`` or
    ``serve_http``, which also run ``watch_tools``.
    """

    def __init__(
        self,
        tools: ToolSource | Callable[[], Sequence[Tool]],
        *,
        name: str,
        version: str = "",
        instructions: str | None = None,
        ask: AskEvents | None = None,
        ask_name: str | None = None,
        tool_timeout: float | None = None,
        policy: ToolPolicy | None = None,
    ) -> None:
        self.source = as_source(tools, name=name)
        self.ask = ask
        self.ask_name = ask_name or ask_tool_name(name)
        self.tool_timeout = tool_timeout
        self.policy = policy or ToolPolicy(timeout=tool_timeout)
        self.bus = InMemorySubscriptionBus()
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        # The log level each handshake-era client asked for (logging/setLevel).
        self._log_levels: weakref.WeakKeyDictionary[Connection, types.LoggingLevel] = (
            weakref.WeakKeyDictionary()
        )
        self.server: Server[Any] = ChangingServer(
            name,
            version=version,
            instructions=instructions,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_subscriptions_listen=ListenHandler(self.bus),
        )
        # Registered by hand: the constructor's argument warns that logging is deprecated
        # from 2026-07-28, while handshake-era clients (the conformance suite) still set it.
        self.server.add_request_handler(
            "logging/setLevel", types.SetLevelRequestParams, self._set_log_level
        )

    def initialization_options(self) -> InitializationOptions:
        """What the server says about itself at ``initialize``."""
        return self.server.create_initialization_options(NotificationOptions(tools_changed=True))

    def tools(self) -> list[Tool]:
        """The brainjar tools offered now (without the ask tool)."""
        return [t for t in self.source.tools() if t.name != self.ask_name]

    def listing(self) -> list[types.Tool]:
        """The tools offered now, as MCP announces them, with every field their source gave."""
        listed = [listed_tool(t) for t in self.tools()]
        if self.ask is not None:
            listed.append(
                types.Tool(
                    name=self.ask_name,
                    description=(
                        f"Ask {self.server.name}: a model with its own tools answers the "
                        "question, calling tools as it needs. Steps are sent as progress."
                    ),
                    input_schema={
                        "type": "object",
                        "properties": {
                            "question": {"type": "string", "description": "what to ask"}
                        },
                        "required": ["question"],
                    },
                )
            )
        return listed

    async def watch_tools(
        self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Tells clients when the offered tools change, until cancelled."""
        version = self.source.version
        seen = _signature(self.listing())
        task_status.started()
        while True:
            version = await self.source.wait_changed(version)
            now = _signature(self.listing())
            if now != seen:
                seen = now
                await self.notify_tools_changed()

    async def notify_tools_changed(self) -> None:
        """Sends ``tools/list_changed`` to every client that listed the tools."""
        await self.bus.publish(ToolsListChanged())
        for connection in list(self._connections):
            with anyio.move_on_after(NOTIFY_LIMIT):
                try:
                    await connection.send_tool_list_changed()
                except Exception as exc:  # a client that went away is no reason to stop
                    log.debug("tools/list_changed not delivered: %s", exc)

    # Handlers

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        connection = getattr(ctx.session, "_connection", None)
        if isinstance(connection, Connection):
            self._connections.add(connection)
        return types.ListToolsResult(tools=self.listing())

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # The caller's trace context, as MCP carries it: ``traceparent`` in ``_meta``.
        meta = [(k, v) for k, v in dict(params.meta or {}).items() if isinstance(v, str)]
        with remote_parent(meta):
            return await self._call(ctx, params)

    async def _call(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        if self.ask is not None and params.name == self.ask_name:
            return await self._ask(ctx, arguments)
        tool = next((t for t in self.tools() if t.name == params.name), None)
        if tool is None:
            names = ", ".join(t.name for t in self.listing()) or "none"
            return _error(f"there is no tool named {params.name!r}; the tools are: {names}")
        with reporting(GatewayReporter(ctx, floor=self.log_level(ctx))):
            return from_tool_result(await self._run(tool, arguments))

    async def _set_log_level(
        self, ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        connection = getattr(ctx.session, "_connection", None)
        if isinstance(connection, Connection):
            self._log_levels[connection] = params.level
        return types.EmptyResult()

    def log_level(self, ctx: ServerRequestContext[Any]) -> types.LoggingLevel | None:
        """The level a handshake-era client asked for with ``logging/setLevel``, if it did."""
        connection = getattr(ctx.session, "_connection", None)
        return self._log_levels.get(connection) if isinstance(connection, Connection) else None

    async def _run(self, tool: Tool, arguments: dict[str, Any]) -> ToolResult:
        try:
            return await apply_policy(tool, self.policy).call(arguments)
        except ToolError as exc:  # what a tool raises is the client's result, not our crash
            return ToolResult.error(str(exc))

    async def _ask(
        self, ctx: ServerRequestContext[Any], arguments: dict[str, Any]
    ) -> types.CallToolResult:
        assert self.ask is not None
        question = arguments.get("question")
        if not isinstance(question, str) or not question.strip():
            return _error(f"{self.ask_name} needs a question: {{'question': '...'}}")
        progress = 0
        answer: Answer | None = None

        async def report(message: str) -> None:
            nonlocal progress
            progress += 1
            await ctx.session.report_progress(progress, None, message)

        try:
            async with self.ask(question) as events:
                async for event in events:
                    if isinstance(event, Answer):
                        answer = event
                    elif (message := _progress_message(event)) is not None:
                        await report(message)
        except BrainjarError as exc:
            # What failed, without a model process's log (ModelError.summary): a client reads it.
            return _error(f"{self.server.name} could not answer: {getattr(exc, 'summary', exc)}")
        if answer is None:  # pragma: no cover - the loop always ends with an Answer
            return _error(f"{self.server.name} ended without an answer")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=answer.text)],
            structured_content={
                "answer": answer.text,
                "steps": answer.steps,
                "stop_reason": answer.stop_reason,
            },
        )


def build_mcp_server(
    tools: ToolSource | Callable[[], Sequence[Tool]],
    *,
    name: str,
    version: str = "",
    instructions: str | None = None,
    ask: AskEvents | None = None,
    tool_timeout: float | None = None,
    policy: ToolPolicy | None = None,
) -> McpGateway:
    """An MCP server offering ``tools()`` as it is at each request.

    Args:
        tools: a tool source (its changes are announced), or a function that
            returns the tools offered now; read at every ``tools/list`` and call.
        name: the server's name (and, with ``ask``, the jar's name).
        version: the server's version.
        instructions: what a client's model is told about the server.
        ask: runs one conversation (``jar.events``); adds the ``ask_<name>`` tool.
        tool_timeout: a limit on each tool call, in seconds; None: no limit.
        policy: every limit on a call (instead of ``tool_timeout``).
    """
    return McpGateway(
        tools,
        name=name,
        version=version,
        instructions=instructions,
        ask=ask,
        tool_timeout=tool_timeout,
        policy=policy,
    )


def _progress_message(event: Event) -> str | None:
    if isinstance(event, StepStarted):
        return f"step {event.step}: asking the model ({event.tools} tools)"
    if isinstance(event, ToolCallStarted):
        return f"calling {event.name}({event.arguments})"
    if isinstance(event, ToolCallFinished):
        return f"{event.name} finished in {event.seconds:.2f}s"
    if isinstance(event, ToolCallFailed):
        return f"{event.name} failed ({event.kind}): {event.error}"
    return None


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=message)], is_error=True
    )


def _signature(listed: Sequence[types.Tool]) -> list[str]:
    return sorted(t.model_dump_json(by_alias=True, exclude_none=True) for t in listed)
