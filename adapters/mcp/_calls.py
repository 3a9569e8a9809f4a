"""One ``tools/call`` on a live connection, and what each way of failing means.

The progress and log messages the server sends during the call go to the
call's ``CallReporter`` (``brainjar.tools.reporting``), e.g. the MCP gateway's
client: progress by the request's own token, log messages through the source
(see ``McpSource._on_log``), which sends them to the calls in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import mcp_types as types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from brainjar._errors import ToolError
from brainjar.observe._tracing import trace_headers
from brainjar.tools import CallReporter, ToolResult, current_reporter

from ._content import to_tool_result
from ._session import TRANSPORT_ERRORS, is_session_gone
from ._transport import Refusal, refusal

__all__ = ["SessionGone", "call_on"]


class SessionGone(Exception):
    """The server refused a request because it no longer knows the session."""


async def call_on(
    client: Client,
    tool: str,
    arguments: dict[str, Any],
    *,
    name: str,
    lose: Callable[[], None],
    why: Callable[[BaseException], str],
    in_flight: set[CallReporter],
) -> ToolResult:
    """Calls ``tool`` on ``client``'s connection to the server called ``name``.

    Args:
        lose: ends the connection (the server went away or forgot the session).
        why: what went wrong, in words fit for a message.
        in_flight: the reporters of the calls in flight; this call's joins while it runs.

    Raises:
        SessionGone: the server did not know the session; the call did not run.
        ToolError: the server went away during the call, or refused it.
    """
    reporter = current_reporter()
    mark = Refusal()
    token = refusal.set(mark)
    if reporter is not None:
        in_flight.add(reporter)
    try:
        result = await client.call_tool(
            tool,
            arguments,
            progress_callback=reporter.progress if reporter else None,
            meta=cast("types.RequestParamsMeta", trace_headers()) or None,  # W3C trace context
        )
    except MCPError as exc:
        # A refused call may see the session close before its own error arrives.
        if mark.refused or is_session_gone(exc):
            lose()
            raise SessionGone(exc.error.message) from exc
        if exc.error.code == types.CONNECTION_CLOSED:
            lose()
            raise ToolError(
                f"{name} went away during the call to {tool}; it is being restarted"
            ) from exc
        raise ToolError(f"{tool} failed: {why(exc)}") from exc
    except TRANSPORT_ERRORS as exc:
        lose()
        raise ToolError(
            f"{name} went away during the call to {tool} ({why(exc)}); it is being restarted"
        ) from exc
    finally:
        refusal.reset(token)
        if reporter is not None:
            in_flight.discard(reporter)
    return to_tool_result(result)
