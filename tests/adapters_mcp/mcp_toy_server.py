"""A small MCP server (the SDK's MCPServer) that tests start, kill and restart.

python mcp_toy_server.py                 stdio
python mcp_toy_server.py --http PORT     streamable HTTP on 127.0.0.1:PORT/mcp
python mcp_toy_server.py --sse PORT      legacy SSE on 127.0.0.1:PORT/sse
--hang-list                              never answers tools/list
--pid-file FILE                          writes its pid there once it serves
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer

server = MCPServer("toy", version="1.0")
_count = 0


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of this server, or <unset>."""
    return os.environ.get(name, "<unset>")


@server.tool()
def bump() -> int:
    """Adds one to a counter that lives as long as this process, and returns it."""
    global _count
    _count += 1
    return _count


@server.tool()
async def sleep(seconds: float, mark: str = "") -> str:
    """Sleeps, then says so; first writes the file ``mark`` (if given) to say it began."""
    if mark:
        await anyio.Path(mark).write_text("sleeping")
    await anyio.sleep(seconds)
    return f"slept {seconds}s"


@server.tool()
def refuse(reason: str) -> types.CallToolResult:
    """Always fails, with the reason given."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=f"refused: {reason}")], is_error=True
    )


async def _hang(ctx: Any, params: Any) -> types.ListToolsResult:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    parser.add_argument("--sse", type=int)
    parser.add_argument("--hang-list", action="store_true")
    parser.add_argument("--pid-file")
    args = parser.parse_args()
    if args.hang_list:
        server._lowlevel_server.add_request_handler(
            "tools/list", types.PaginatedRequestParams, _hang
        )
    if args.pid_file:
        Path(args.pid_file).write_text(str(os.getpid()))
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    elif args.sse:
        server.run("sse", host="127.0.0.1", port=args.sse)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
