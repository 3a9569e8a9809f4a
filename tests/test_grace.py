"""SIGTERM drains tool calls in flight within --grace: serve-tools, `brainjar mcp` over HTTP,
and a jar's gRPC endpoint, each a real process called over its real protocol.

A tool call that is released after the signal finishes and its caller gets the result;
one that outlives the grace ends with an error of its protocol (gRPC UNAVAILABLE, a
JSON-RPC error), not a dropped connection; the process exits 0 either way.
"""

from __future__ import annotations

import json
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import grpc
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from brainjar.adapters.grpc import tool_service_pb2 as pb
from brainjar.adapters.grpc import tool_service_pb2_grpc as pb_grpc
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from process_support import ended

from brainjar.testing import ScriptedModel, ScriptedModelServer, reply

# How long a process may take to start, to stop once its calls are done, and a call to
# end once released or cut off: generous, as the suite shares two cores.
START_LIMIT = 60.0
STOP_LIMIT = 30.0
CALL_LIMIT = 30.0
POLL = 0.05
# A grace no call here outlives unless the test keeps it waiting; and one that it does.
LONG_GRACE = "60"
SHORT_GRACE = "0.5"

TOOLS = '''
import pathlib

import anyio
from langchain_core.tools import tool

HERE = pathlib.Path(__file__).parent


@tool
async def wait_for(name: str) -> str:
    """Says it started (NAME.started), then waits until NAME.go exists."""
    (HERE / f"{name}.started").touch()
    while not (HERE / f"{name}.go").exists():
        await anyio.sleep(0.02)
    return f"{name} done"
'''


@dataclass
class Running:
    """A brainjar process, and the lines it printed so far."""

    process: Process
    lines: list[str] = field(default_factory=list)

    def seen(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def events(self) -> list[dict[str, object]]:
        return [json.loads(x) for x in self.lines if x.startswith("{")]


async def _until(predicate: Callable[[], bool], *, limit: float, what: str) -> None:
    """Waits, within ``limit``, until ``predicate`` holds (another process's doing)."""
    with anyio.move_on_after(limit):
        while True:
            if predicate():
                return
            await anyio.sleep(POLL)
    raise AssertionError(f"no {what} within {limit:g}s")


@asynccontextmanager
async def _brainjar(args: list[str], *, ready: str, cwd: Path) -> AsyncIterator[Running]:
    """Runs ``python -m brainjar ARGS`` until a line containing ``ready`` appears."""
    process = await anyio.open_process([sys.executable, "-m", "brainjar", *args], cwd=cwd)
    running = Running(process)

    async def read(stream: anyio.abc.ByteReceiveStream) -> None:
        buffer = ""
        async for chunk in TextReceiveStream(stream):
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                running.lines.append(line)

    try:
        async with anyio.create_task_group() as tg:
            assert process.stdout is not None and process.stderr is not None
            tg.start_soon(read, process.stdout)
            tg.start_soon(read, process.stderr)
            await _until(
                lambda: running.seen(ready) or process.returncode is not None,
                limit=START_LIMIT,
                what="start",
            )
            assert running.seen(ready), "\n".join(running.lines)
            yield running
            tg.cancel_scope.cancel()
    finally:
        await ended(process)


async def _stop_and_wait(running: Running, tmp_path: Path, name: str) -> None:
    """SIGTERM once the call runs; waits until the process says it drains."""
    await _until(lambda: (tmp_path / f"{name}.started").exists(), limit=CALL_LIMIT, what="call")
    running.process.send_signal(signal.SIGTERM)
    await _until(lambda: running.seen("draining"), limit=STOP_LIMIT, what="drain")


async def _exit_status(running: Running) -> int:
    with anyio.fail_after(STOP_LIMIT):
        return await running.process.wait()


def _tool_service(tmp_path: Path) -> Path:
    (tmp_path / "grace_tools.py").write_text(TOOLS)
    manifest = tmp_path / "service.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: ToolService
            metadata: {{name: grace-{uuid.uuid4().hex[:8]}}}
            spec:
              tools:
                - langchain: grace_tools:wait_for
              grpc: {{port: 0}}
              announce: {{enabled: false}}
            """)
    )
    return manifest


def _jar(tmp_path: Path, model_url: str, endpoints: str = "") -> Path:
    (tmp_path / "grace_tools.py").write_text(TOOLS)
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: drainer}}
            spec:
              model: {{backend: openai, endpoint: "{model_url}", name: scripted}}
              tools:
                - langchain: grace_tools:wait_for
              loop: {{transcripts: false, tool_timeout: 5m}}
            """)
        + endpoints
    )
    return manifest


async def _grpc_call(port: int, name: str, outcome: list[object]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = pb.CallToolRequest(name="wait_for", arguments_json=json.dumps({"name": name}))
        try:
            outcome.append(await pb_grpc.ToolServiceStub(channel).CallTool(request))
        except grpc.aio.AioRpcError as exc:
            outcome.append(exc)


def _grpc_port(running: Running) -> int:
    urls = [str(e["url"]) for e in running.events() if str(e.get("url", "")).startswith("grpc")]
    return int(urls[0].rsplit(":", 1)[1])


@pytest.mark.parametrize("grace", [LONG_GRACE, SHORT_GRACE])
async def test_serve_tools_drains_grpc_calls_within_its_grace(tmp_path: Path, grace: str) -> None:
    args = ["serve-tools", str(_tool_service(tmp_path)), "--json", "--grace", grace]
    async with _brainjar(args, ready='"ready"', cwd=tmp_path) as running:
        outcome: list[object] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(_grpc_call, _grpc_port(running), "a", outcome)
            await _stop_and_wait(running, tmp_path, "a")
            if grace == LONG_GRACE:
                (tmp_path / "a.go").touch()  # released after the signal: it finishes
        assert await _exit_status(running) == 0
    (result,) = outcome
    if grace == LONG_GRACE:
        assert isinstance(result, pb.CallToolResponse) and result.content == "a done", result
    else:
        assert isinstance(result, grpc.aio.AioRpcError), result
        assert result.code() == grpc.StatusCode.UNAVAILABLE, result
        assert "outlived the service's grace period" in (result.details() or ""), result


async def test_run_grace_reaches_a_jars_grpc_endpoint(tmp_path: Path) -> None:
    """`run --grace` bounds the gRPC endpoint's drain too: a call past it is cut off."""
    async with ScriptedModelServer(ScriptedModel([reply("unused")], repeat=True)) as model:
        manifest = _jar(tmp_path, model.openai_base_url, "  endpoints:\n    - grpc: {port: 0}\n")
        args = ["run", str(manifest), "--json", "--grace", SHORT_GRACE]
        async with _brainjar(args, ready='"listening"', cwd=tmp_path) as running:
            outcome: list[object] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(_grpc_call, _grpc_port(running), "b", outcome)
                await _stop_and_wait(running, tmp_path, "b")
            assert await _exit_status(running) == 0
    (result,) = outcome
    assert isinstance(result, grpc.aio.AioRpcError), result
    assert result.code() == grpc.StatusCode.UNAVAILABLE, result
    assert "outlived the service's grace period" in (result.details() or ""), result


@pytest.mark.parametrize("grace", [LONG_GRACE, SHORT_GRACE])
async def test_brainjar_mcp_over_http_drains_calls_within_its_grace(
    tmp_path: Path, grace: str
) -> None:
    async with ScriptedModelServer(ScriptedModel([reply("unused")], repeat=True)) as model:
        manifest = _jar(tmp_path, model.openai_base_url)
        args = ["mcp", str(manifest), "--transport", "http", "--grace", grace]
        async with _brainjar(args, ready="MCP on http", cwd=tmp_path) as running:
            url = next(x for x in running.lines if "MCP on " in x).split("MCP on ", 1)[1]
            outcome: list[object] = []

            async def call() -> None:
                async with (
                    streamable_http_client(url) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    # Listed first, as clients do: the SDK reads a result against the
                    # listing, and a drained server takes no follow-up once it has stopped.
                    await session.list_tools()
                    try:
                        outcome.append(await session.call_tool("wait_for", {"name": "c"}))
                    except MCPError as exc:
                        outcome.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await _stop_and_wait(running, tmp_path, "c")
                if grace == LONG_GRACE:
                    (tmp_path / "c.go").touch()
            assert await _exit_status(running) == 0
    (result,) = outcome
    if grace == LONG_GRACE:
        assert not isinstance(result, MCPError) and not result.is_error, result
        assert result.content[0].text == "c done", result  # type: ignore[union-attr]
    else:
        assert isinstance(result, MCPError), result
        assert "outlived the server's grace period" in str(result), result
