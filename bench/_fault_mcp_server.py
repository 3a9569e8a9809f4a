"""The MCP server behind the jar in ``bench/bench_faults.py``; the benchmark kills it.

python _fault_mcp_server.py              stdio (the jar starts it)
python _fault_mcp_server.py --http PORT  streamable HTTP on 127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import argparse
import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("faults", version="1.0", log_level="WARNING")


@server.tool()
def stamp(n: int) -> str:
    """Says which process served conversation n."""
    return f"stamp {n} by {os.getpid()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    args = parser.parse_args()
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
