"""What the gateway passes on unchanged: tool fields, call reports, its change capability.

- ``listed_tool``: a brainjar tool as MCP lists it, with every field its source
  gave (``title``, ``outputSchema``, ``annotations``, ...).
- ``GatewayReporter``: the progress and log messages of a call in flight, sent
  to the client that made the call (progress by its token; log messages at or
  above the level it asked for, on a 2026-07-28 connection only if the request
  opted in).
- ``ChangingServer``: advertises ``tools.listChanged`` on every transport.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions

from brainjar.tools import Tool

__all__ = ["LOG_LEVELS", "ChangingServer", "GatewayReporter", "listed_tool"]

# MCP's log levels, least severe first.
LOG_LEVELS: tuple[types.LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


class ChangingServer(Server[Any]):
    """A low-level server that says it sends ``tools/list_changed`` on every transport.

    The SDK's streamable-HTTP manager builds its ``initialize`` answer from
    ``create_initialization_options()`` with no arguments; this default makes
    that answer, like the stdio one, advertise what the gateway sends.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True),
            experimental_capabilities,
            extensions,
        )


class GatewayReporter:
    """Sends what a tool reports during one ``tools/call`` to the client that made it."""

    def __init__(self, ctx: ServerRequestContext[Any], *, floor: types.LoggingLevel | None) -> None:
        self.ctx = ctx
        self.floor = floor  # the level a handshake-era client asked for, if it did
        self.allowed = allowed_log_levels(ctx.protocol_version, ctx.meta)

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        await self.ctx.session.report_progress(progress, total, message)

    async def log(self, level: str, data: Any, logger: str | None) -> None:
        if level not in LOG_LEVELS:
            return
        if self.floor is not None and LOG_LEVELS.index(level) < LOG_LEVELS.index(self.floor):
            return
        if level not in self.allowed:  # a 2026-07-28 request opts in to a level, or to none
            return
        notification = types.LoggingMessageNotification(
            params=types.LoggingMessageNotificationParams(level=level, data=data, logger=logger)
        )
        # Sent as a plain notification: the SDK's helper warns that logging is deprecated
        # from 2026-07-28, and the request's own opt-in is checked above.
        await self.ctx.session.send_notification(
            notification, related_request_id=self.ctx.request_id
        )


def listed_tool(tool: Tool) -> types.Tool:
    """``tool`` as MCP announces it: its source's own fields, with brainjar's name,
    description and argument schema (a prefix or policy may have changed them)."""
    fields = dict(tool.raw or {})
    fields.update(name=tool.name, description=tool.description, inputSchema=tool.parameters)
    try:
        return types.Tool.model_validate(fields)
    except ValueError:  # a source's raw form that is not an MCP tool
        return types.Tool(
            name=tool.name, description=tool.description, input_schema=tool.parameters
        )
