"""Per-call latency of an MCP tool: brainjar's MCP source against a raw SDK session
and against a session per call (what langchain-mcp-adapters does by default).

    python bench/bench_mcp.py [--calls 200] [--per-call-calls 20]

The same server (this file, run with ``--serve``) answers over stdio and over
streamable HTTP on 127.0.0.1. Prints median and p99 per way and the ratios.
Figures, not assertions: nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio

# How long the HTTP server may take to come up.
SERVER_START_LIMIT = 30.0
# The most calls of any one way: keeps a run bounded.
MAX_CALLS = 2000


def serve(transport: str, port: int) -> None:
    """The benchmark's server: one ``echo`` tool."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench", log_level="WARNING")

    @server.tool()
    def echo(text: str) -> str:
        """Returns the text."""
        return text

    if transport == "http":
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    """Seconds per call, for ``n`` calls after two warm-up calls."""
    for _ in range(2):
        await call()
    times = []
    for _ in range(n):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


def summary(times: list[float]) -> tuple[float, float]:
    """(median, p99) in milliseconds."""
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _stdio_params() -> Any:
    from mcp.client.stdio import StdioServerParameters

    return StdioServerParameters(
        command=sys.executable, args=[__file__, "--serve", "stdio"], env=dict(os.environ)
    )


def _transport(kind: str, url: str) -> AbstractAsyncContextManager[Any]:
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client

    return stdio_client(_stdio_params()) if kind == "stdio" else streamable_http_client(url)


async def bench_brainjar(kind: str, url: str, n: int) -> list[float]:
    from brainjar.adapters.mcp import McpServer, McpSource

    if kind == "stdio":
        config = McpServer(command=[sys.executable, __file__, "--serve", "stdio"])
    else:
        config = McpServer(url=url)
    async with McpSource(config) as source:
        echo = next(t for t in source.tools() if t.name == "echo")
        return await timed(lambda: echo.call({"text": "hi"}), n)


async def bench_raw(kind: str, url: str, n: int) -> list[float]:
    from mcp.client.session import ClientSession

    async with _transport(kind, url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await timed(lambda: session.call_tool("echo", {"text": "hi"}), n)


async def bench_session_per_call(kind: str, url: str, n: int) -> tuple[str, list[float]]:
    """langchain-mcp-adapters' default usage if it imports; else the same pattern by hand."""
    try:
        from langchain_mcp_adapters.client import MultiServerMCPClient
    except ImportError as exc:
        from mcp.client.session import ClientSession

        async def one() -> Any:
            async with _transport(kind, url) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                return await s.call_tool("echo", {"text": "hi"})

        why = f"langchain-mcp-adapters does not import with this mcp ({exc.name or exc})"
        return f"session per call, by hand: {why}", await timed(one, n)
    if kind == "stdio":
        spec: dict[str, Any] = {
            "command": sys.executable,
            "args": [__file__, "--serve", "stdio"],
            "transport": "stdio",
        }
    else:
        spec = {"url": url, "transport": "streamable_http"}
    client = MultiServerMCPClient({"bench": spec})
    tool = next(t for t in await client.get_tools() if t.name == "echo")
    return "langchain-mcp-adapters", await timed(lambda: tool.ainvoke({"text": "hi"}), n)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_http(port: int) -> None:
    with anyio.fail_after(SERVER_START_LIMIT):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


def main(calls: int, per_call_calls: int) -> None:
    """Starts the HTTP server, runs every way, prints the table, stops the server."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "http", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        anyio.run(run_all, port, calls, per_call_calls)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def run_all(port: int, calls: int, per_call_calls: int) -> None:
    """Every way, on both transports."""
    url = f"http://127.0.0.1:{port}/mcp"
    await _wait_http(port)
    print(f"echo tool, {calls} calls per way ({per_call_calls} for a session per call)")
    print(f"{'transport':<10}{'way':<32}{'median ms':>10}{'p99 ms':>10}{'x raw':>8}")
    for kind in ("stdio", "http"):
        raw = summary(await bench_raw(kind, url, calls))
        ours = summary(await bench_brainjar(kind, url, calls))
        label, per_call_times = await bench_session_per_call(kind, url, per_call_calls)
        per_call = summary(per_call_times)
        for way, (median, p99) in (
            ("raw mcp ClientSession", raw),
            ("brainjar McpSource", ours),
            ("session per call", per_call),
        ):
            ratio = median / raw[0]
            print(f"{kind:<10}{way:<32}{median:>10.3f}{p99:>10.3f}{ratio:>8.2f}")
        print(f"{'':<10}(session per call: {label})")
        print(
            f"{'':<10}brainjar is {per_call[0] / ours[0]:.0f}x faster per call "
            "than a session per call"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--per-call-calls", type=int, default=20)
    parser.add_argument("--serve", choices=["stdio", "http"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    else:
        main(min(args.calls, MAX_CALLS), min(args.per_call_calls, MAX_CALLS))
