"""The tool mesh, measured. Prints figures; asserts nothing about time.

1. serve-tools start -> tool callable through a discover source, and goodbye ->
   tools removed, over RUNS real processes (mDNS on 127.0.0.1); where the start
   time goes: the process up to its gRPC port listening (Python and imports),
   then up to its announcement (zeroconf's start, and the name's probe), up to the
   jar's browser seeing it (the event reaches the bench through a pipe, so this may
   be below zero), up to the row admitted (Describe), up to the tool callable
   (ListTools).
2. CallTool latency p50/p99 on loopback, beside a raw grpcio unary echo and the
   same tool over MCP streamable HTTP, in the same run.
3. Calls per second with CONCURRENCY callers over gRPC.

Run: python bench/bench_mesh.py [--runs 20]
"""

from __future__ import annotations

import argparse
import itertools
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "registry"))

from brainjar.adapters.grpc import Channel, GrpcToolSource, Limits, ToolServer, serve_grpc
from brainjar.adapters.mcp import McpServer
from brainjar.registry import DiscoverSettings, DiscoverSource
from mesh_support import eventually, tool_service, write_service

from brainjar.tools._tool import Tool, ToolResult

RUNS = 20
LATENCY_CALLS = 2000
CONCURRENCY = 32
THROUGHPUT_CALLS = 6400
# Limit on each measured phase, so a broken run ends instead of hanging.
PHASE_LIMIT = 60.0
# How often the jar's table is looked at, for the start phases.
WATCH_EVERY = 0.002
PHASES = ("listening:grpc", "announced", "sighted", "admitted", "callable")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> str:
    return (
        f"p50 {_pct(values, 0.5) * 1e3:7.3f} ms  p90 {_pct(values, 0.9) * 1e3:7.3f} ms  "
        f"p99 {_pct(values, 0.99) * 1e3:7.3f} ms"
    )


async def _watch(source: DiscoverSource, marks: dict[str, float]) -> None:
    """Notes when the jar's table first has a row for the service, and when it is usable."""
    while True:
        rows = source.registry.services()
        if rows:
            marks.setdefault("sighted", time.perf_counter())
        if any(r.status == "ok" for r in rows):
            marks.setdefault("admitted", time.perf_counter())
        if any(t.name == "echo" for t in source.tools()):
            marks.setdefault("callable", time.perf_counter())
            return
        await anyio.sleep(WATCH_EVERY)


def _phases(began: float, marks: dict[str, float]) -> list[float]:
    """Seconds from each phase's start to its end (PHASES order)."""
    times = [began, *(marks.get(p, float("nan")) for p in PHASES)]
    return [b - a for a, b in itertools.pairwise(times)]


async def bench_discovery(runs: int) -> None:
    up: list[float] = []
    down: list[float] = []
    first: list[float] = []  # the moment the tool is callable, before "ready" perhaps
    phases: list[list[float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            # A letter first: YAML reads a bare 12345678 or 12e45678 as a number.
            uid = "m" + uuid.uuid4().hex[:8]
            folder = Path(tmp) / str(i)
            folder.mkdir()
            manifest = write_service(folder, f"bench-{uid}", labels={"mesh": uid})
            config = DiscoverSettings(selector={"mesh": uid}, interfaces=["127.0.0.1"])
            async with DiscoverSource(config, health_interval=0.5) as source:
                marks: dict[str, float] = {}
                with anyio.fail_after(PHASE_LIMIT):
                    began = time.perf_counter()
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(_watch, source, marks)
                        async with tool_service(manifest) as service:
                            await eventually(
                                partial(dict.__contains__, marks, "callable"), limit=PHASE_LIMIT
                            )
                            echo = next(t for t in source.tools() if t.name == "echo")
                            assert not (await echo.call({"text": "x"})).is_error
                            up.append(time.perf_counter() - began)
                            first.append(marks["callable"] - began)
                            for kind in ("listening:grpc", "announced"):
                                marks[kind] = service.arrived[kind]
                            phases.append(_phases(began, marks))
                            began = time.perf_counter()
                            service.signal(signal.SIGTERM)
                            await eventually(lambda: not source.tools(), limit=PHASE_LIMIT)
                            down.append(time.perf_counter() - began)
                            await service.process.wait()
    print(f"(1) over {runs} runs of serve-tools, mDNS on 127.0.0.1:")
    print(
        f"    start -> callable via discover : median {statistics.median(up):.2f} s, "
        f"p90 {_pct(up, 0.9):.2f} s  (serve-tools ready, and one call made)"
    )
    print(
        f"    start -> first callable        : median {statistics.median(first):.2f} s, "
        f"p90 {_pct(first, 0.9):.2f} s"
    )
    print(
        f"    goodbye -> removed             : median {statistics.median(down) * 1e3:.0f} ms, "
        f"p90 {_pct(down, 0.9) * 1e3:.0f} ms"
    )
    print("    where start -> callable goes (median of each phase):")
    labels = (
        "process start -> gRPC listening",
        "listening -> announced (probe)",
        "announced -> sighted (browse)",
        "sighted -> admitted (Describe)",
        "admitted -> callable (tools)",
    )
    for n, label in enumerate(labels):
        print(f"      {label:33}: {statistics.median(p[n] for p in phases) * 1e3:5.0f} ms")


async def _echo(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content=arguments["text"])


ECHO = Tool(
    name="echo",
    description="echo",
    parameters={"type": "object", "properties": {"text": {"type": "string"}}},
    call=_echo,
)


async def _latencies(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(50):  # warm up
        await call()
    out = []
    for _ in range(n):
        began = time.perf_counter()
        await call()
        out.append(time.perf_counter() - began)
    return out


async def bench_latency_and_throughput() -> None:
    server = ToolServer(
        tools=lambda: [ECHO], instance="bench", limits=Limits(max_concurrent_calls=CONCURRENCY * 2)
    )
    raw = grpc.aio.server()

    async def raw_echo(request: bytes, context: Any) -> bytes:
        return request

    raw.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(raw_echo)}
            )
        ]
    )
    raw_port = raw.add_insecure_port("127.0.0.1:0")
    await raw.start()
    try:
        async with anyio.create_task_group() as tg:
            port = await tg.start(partial(serve_grpc, server, grace=0.5))
            from brainjar.adapters.mcp import McpSource, serve_tools_http

            url = await tg.start(partial(serve_tools_http, lambda: [ECHO]))
            async with GrpcToolSource(Channel(target=f"127.0.0.1:{port}")) as source:
                tool = source.tools()[0]
                with anyio.fail_after(PHASE_LIMIT):
                    grpc_lat = await _latencies(lambda: tool.call({"text": "hi"}), LATENCY_CALLS)
                channel = grpc.aio.insecure_channel(f"127.0.0.1:{raw_port}")
                method = channel.unary_unary("/bench.Echo/Echo")
                with anyio.fail_after(PHASE_LIMIT):
                    raw_lat = await _latencies(lambda: method(b'{"text": "hi"}'), LATENCY_CALLS)
                await channel.close()
                async with McpSource(McpServer(url=str(url))) as mcp:
                    mcp_tool = mcp.tools()[0]
                    with anyio.fail_after(PHASE_LIMIT):
                        mcp_lat = await _latencies(
                            lambda: mcp_tool.call({"text": "hi"}), LATENCY_CALLS // 4
                        )
                print(
                    f"(2) one caller, loopback ({LATENCY_CALLS} calls; MCP {LATENCY_CALLS // 4}):"
                )
                print(f"    raw grpcio unary echo : {_ms(raw_lat)}")
                print(f"    brainjar gRPC CallTool: {_ms(grpc_lat)}")
                print(f"    same tool, MCP HTTP   : {_ms(mcp_lat)}")
                done = 0

                async def caller(n: int) -> None:
                    nonlocal done
                    for _ in range(n):
                        assert not (await tool.call({"text": "hi"})).is_error
                        done += 1

                began = time.perf_counter()
                with anyio.fail_after(PHASE_LIMIT):
                    async with anyio.create_task_group() as callers:
                        for _ in range(CONCURRENCY):
                            callers.start_soon(caller, THROUGHPUT_CALLS // CONCURRENCY)
                elapsed = time.perf_counter() - began
                print(
                    f"(3) {CONCURRENCY} concurrent callers, {done} calls: "
                    f"{done / elapsed:,.0f} calls/s"
                )
            tg.cancel_scope.cancel()
    finally:
        await raw.stop(None)


async def main(runs: int) -> None:
    await bench_discovery(runs)
    await bench_latency_and_throughput()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    anyio.run(main, parser.parse_args().runs)
