"""The jar as an MCP server: the SDK's client over streamable HTTP and stdio, the
real MCP Inspector CLI, and brainjar's own MCP source as a client."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from brainjar.adapters.mcp import McpServer, McpSource, serve_http, serve_tools_http
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_support import NODE_BIN, TOY_SERVER, node_bin

from brainjar.jar._jar import Jar
from brainjar.serve import gateway_for_jar
from brainjar.testing import ScriptedModelServer, call, reply
from brainjar.tools import StaticSource
from brainjar.tools._tool import Tool, ToolResult

TEST_LIMIT = 60.0
POLL_INTERVAL = 0.02
JAR_NAME = "test-jar"
ASK = "ask_test_jar"


def _manifest(tmp_path: Path, model_url: str) -> Path:
    path = tmp_path / "jar.yaml"
    path.write_text(
        f"""\
apiVersion: brainjar.dev/v1
kind: Jar
metadata:
  name: {JAR_NAME}
  version: 1.2.3
  description: A jar for the MCP tests.
spec:
  model:
    backend: openai
    endpoint: {model_url}
    name: scripted
  tools:
    - mcp: {{command: [{sys.executable}, {TOY_SERVER}], name: toy}}
  loop: {{transcripts: {tmp_path / "transcripts"}}}
"""
    )
    return path


@asynccontextmanager
async def _http_session(url: str) -> AsyncIterator[ClientSession]:
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_jar_over_streamable_http_with_the_sdk_client(tmp_path: Path) -> None:
    script = [call("bump", {}), reply("The counter moved.")]
    with anyio.fail_after(TEST_LIMIT):
        async with ScriptedModelServer(script) as model:
            jar = Jar.load(_manifest(tmp_path, model.openai_base_url))
            async with jar, anyio.create_task_group() as tg:
                url = await tg.start(serve_http, gateway_for_jar(jar))
                assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
                async with _http_session(url) as session:
                    init = session.initialize_result
                    assert init is not None
                    assert init.server_info.name == JAR_NAME
                    assert init.server_info.version == "1.2.3"
                    assert init.instructions == "A jar for the MCP tests."
                    listed = {t.name: t for t in (await session.list_tools()).tools}
                    assert {"bump", "pid", "sleep", "refuse", ASK} <= set(listed)
                    assert listed[ASK].input_schema["required"] == ["question"]
                    # A tool of the jar (here: of an MCP server the jar uses), directly.
                    assert _text(await session.call_tool("bump", {})) == "1"
                    refused = await session.call_tool("refuse", {"reason": "test"})
                    assert refused.is_error and _text(refused) == "refused: test"
                    bad = await session.call_tool("sleep", {"seconds": "long"})
                    assert bad.is_error and "bad arguments for sleep" in _text(bad)
                    # The jar itself: the loop runs, steps come as progress.
                    progress: list[str] = []

                    async def on_progress(value: float, total: float | None, msg: str | None):
                        progress.append(msg or "")

                    answer = await session.call_tool(
                        ASK, {"question": "bump it"}, progress_callback=on_progress
                    )
                    assert not answer.is_error
                    assert _text(answer) == "The counter moved."
                    assert answer.structured_content == {
                        "answer": "The counter moved.",
                        "steps": 2,
                        "stop_reason": "answer",
                    }
                    assert any(m.startswith("step 1") for m in progress), progress
                    assert any(m.startswith("calling bump") for m in progress), progress
                    # The model's call went through the same long-lived session.
                    assert _text(await session.call_tool("bump", {})) == "3"
                tg.cancel_scope.cancel()


async def test_cancelling_the_ask_request_cancels_the_loop(tmp_path: Path) -> None:
    script = [call("sleep", {"seconds": 120}), reply("never")]
    with anyio.fail_after(TEST_LIMIT):
        async with ScriptedModelServer(script) as model:
            jar = Jar.load(_manifest(tmp_path, model.openai_base_url))
            async with jar, anyio.create_task_group() as tg:
                url = await tg.start(serve_http, gateway_for_jar(jar))
                async with _http_session(url) as session:
                    with anyio.CancelScope() as scope:

                        async def on_progress(value: float, total: float | None, msg: str | None):
                            if msg and msg.startswith("calling sleep"):
                                scope.cancel()

                        await session.call_tool(
                            ASK, {"question": "wait"}, progress_callback=on_progress
                        )
                    assert scope.cancelled_caught
                    # The record is written by the server's task: poll for it.
                    while not _cancelled_in(tmp_path / "transcripts"):  # noqa: ASYNC110
                        await anyio.sleep(POLL_INTERVAL)
                tg.cancel_scope.cancel()


def _cancelled_in(folder: Path) -> bool:
    return any('"cancelled"' in p.read_text() for p in folder.glob("*.jsonl"))


async def test_brainjar_mcp_over_stdio_with_the_sdk_client(tmp_path: Path) -> None:
    script = [call("pid", {}), reply("I know my pid.")]
    with anyio.fail_after(TEST_LIMIT):
        async with ScriptedModelServer(script) as model:
            manifest = _manifest(tmp_path, model.openai_base_url)
            params = StdioServerParameters(
                command=sys.executable,
                args=["-m", "brainjar", "mcp", str(manifest)],
                env=dict(os.environ),
            )
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                init = await session.initialize()
                assert init.server_info.name == JAR_NAME
                names = {t.name for t in (await session.list_tools()).tools}
                assert {"bump", "pid", ASK} <= names
                assert _text(await session.call_tool("bump", {})) == "1"
                answer = await session.call_tool(ASK, {"question": "what is your pid?"})
                assert _text(answer) == "I know my pid."


# The Inspector CLI's exit status when the tool's result has isError: true.
INSPECTOR_TOOL_IS_ERROR = 5
# The Inspector's own limit on connecting to the server, in ms (its default, 15 s,
# is too short for a brainjar start on a loaded 2-core machine).
INSPECTOR_CONNECT_MS = "120000"


async def _inspector(tmp_path: Path, *args: str, status: int = 0) -> Any:
    command = [node_bin("mcp-inspector"), "--cli", *args, "--connect-timeout", INSPECTOR_CONNECT_MS]
    env = {**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "catalog.json")}
    done = await anyio.run_process(command, env=env, check=False)
    assert done.returncode == status, done.stderr.decode() + done.stdout.decode()
    return json.loads(done.stdout)


async def test_mcp_inspector_cli_drives_brainjar_mcp(tmp_path: Path) -> None:
    script = [call("bump", {}), reply("Bumped once.")]
    with anyio.fail_after(TEST_LIMIT * 2):
        async with ScriptedModelServer(script) as model:
            manifest = str(_manifest(tmp_path, model.openai_base_url))
            server = [sys.executable, "-m", "brainjar", "mcp", manifest]
            listed = await _inspector(tmp_path, *server, "--method", "tools/list")
            assert {"bump", ASK} <= {t["name"] for t in listed["tools"]}
            called = await _inspector(
                tmp_path,
                *server,
                "--method",
                "tools/call",
                "--tool-name",
                "refuse",
                "--tool-arg",
                "reason=inspected",
                status=INSPECTOR_TOOL_IS_ERROR,
            )
            assert called["isError"] is True
            assert called["content"][0]["text"] == "refused: inspected"
            asked = await _inspector(
                tmp_path,
                *server,
                "--method",
                "tools/call",
                "--tool-name",
                ASK,
                "--tool-arg",
                "question=bump please",
            )
            assert asked["content"][0]["text"] == "Bumped once."
            assert asked["structuredContent"]["stop_reason"] == "answer"


async def test_serve_tools_http_list_changes_reach_an_mcp_source() -> None:
    async def hello(arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(content=f"hello {arguments['who']}")

    schema = {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]}
    hello_tool = Tool(name="hello", description="Greets.", parameters=schema, call=hello)
    offered = StaticSource([hello_tool])
    with anyio.fail_after(TEST_LIMIT):
        async with anyio.create_task_group() as tg:
            url = await tg.start(partial(serve_tools_http, offered, token="s3cret"))
            refused = McpServer(url=url, timeout=5)
            config = McpServer(url=url, headers={"Authorization": "Bearer s3cret"})
            async with McpSource(config) as source:
                assert [t.name for t in source.tools()] == ["hello"]
                result = await source.tools()[0].call({"who": "mesh"})
                assert result.content == "hello mesh"
                bye = Tool(name="bye", description="Says bye.", parameters=schema, call=hello)
                offered.set([hello_tool, bye])
                while len(source.tools()) != 2:  # noqa: ASYNC110 - the refresh is the source's
                    await anyio.sleep(POLL_INTERVAL)
                assert {t.name for t in source.tools()} == {"hello", "bye"}
            async with McpSource(refused) as source:
                assert source.tools() == []  # no token: 401, not connected
            tg.cancel_scope.cancel()


def test_inspector_is_installed_where_the_tests_look() -> None:
    if not (NODE_BIN / "mcp-inspector").exists():
        pytest.skip("run `npm ci --prefix tests` to get the MCP Inspector")
    assert (NODE_BIN / "mcp-server-everything").exists()
