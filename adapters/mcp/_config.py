"""Where an MCP server is (``McpServer``), and the transport that reaches it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client

from ._transport import display_url, http_transport, server_environment

__all__ = ["McpServer", "open_transport", "short_name"]


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
        timeout: seconds allowed to connect (``server/discover`` or ``initialize``)
            and list the tools (and to wait for a session).
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


def open_transport(
    config: McpServer, *, errlog: TextIO, on_session_gone: Callable[[], None]
) -> AbstractAsyncContextManager[Any]:
    """The transport to ``config``'s server (a context manager that yields two streams)."""
    if config.command is not None:
        params = StdioServerParameters(
            command=config.command[0],
            args=[*config.command[1:], *config.args],
            env=server_environment(
                config.env, passthrough=config.env_passthrough, inherit=config.inherit_env
            ),
            cwd=config.cwd,
        )
        return stdio_client(params, errlog=errlog)
    assert config.url is not None
    if config.transport == "sse":
        return sse_client(config.url, headers=dict(config.headers), timeout=config.timeout)
    return http_transport(
        config.url,
        headers=dict(config.headers),
        connect_limit=config.timeout,
        on_session_gone=on_session_gone,
    )


def short_name(config: McpServer) -> str:
    """The server's name for people: its ``name``, its program, or its host and port."""
    if config.name:
        return config.name
    if config.command:
        return Path(config.command[0]).name
    return display_url(config.url or "") or "remote"
