"""MCP servers as tools: real servers over stdio, streamable HTTP and SSE."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from brainjar.adapters.mcp import McpServer, McpSource
from brainjar.adapters.mcp._client import ENTER_MARGIN
from brainjar.adapters.mcp._transport import display_url, redact
from mcp_support import TOY_SERVER, free_port, node_bin, pypi_bin, start_toy

from brainjar import ToolError
from brainjar.tools import ToolSet
from brainjar.tools._tool import Tool

# Limits on what each test waits for.
CONNECT_LIMIT = 30.0
TEST_LIMIT = 60.0
POLL_INTERVAL = 0.02


def _toy(*args: str, timeout: float = 20.0) -> McpServer:
    return McpServer(command=[sys.executable, str(TOY_SERVER), *args], timeout=timeout)


def _tool(source: McpSource, name: str) -> Tool:
    found = {t.name: t for t in source.tools()}
    assert name in found, f"{name} not in {sorted(found)}"
    return found[name]


async def _until(condition: object, *, limit: float = CONNECT_LIMIT) -> None:
    """Waits until ``condition()`` holds, failing after ``limit`` seconds.

    Polls: what it waits for happens in another process (a file appears) or is
    a counter of the source, with no event to wait on.
    """
    with anyio.fail_after(limit):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110
            await anyio.sleep(POLL_INTERVAL)


async def test_time_server_over_stdio() -> None:
    config = McpServer(command=[pypi_bin("mcp-server-time")])
    async with McpSource(config) as source:
        assert source.name == "mcp:mcp-server-time"
        assert {t.name for t in source.tools()} >= {"get_current_time", "convert_time"}
        tool = _tool(source, "get_current_time")
        assert tool.source == "mcp:mcp-server-time"
        result = await tool.call({"timezone": "Europe/Paris"})
        assert not result.is_error
        assert json.loads(result.content)["timezone"] == "Europe/Paris"
        bad = await tool.call({"timezone": "Nowhere/Atlantis"})
        assert bad.is_error
        assert "Nowhere/Atlantis" in bad.content


async def test_everything_server_maps_text_images_and_structured_content() -> None:
    config = McpServer(command=[node_bin("mcp-server-everything")], name="everything")
    async with McpSource(config) as source:
        assert source.name == "mcp:everything"
        echo = await _tool(source, "echo").call({"message": "hello jar"})
        assert echo.content == "Echo: hello jar"
        image = await _tool(source, "get-tiny-image").call({})
        assert "[image image/png, " in image.content and " bytes]" in image.content
        structured = await _tool(source, "get-structured-content").call({"location": "Chicago"})
        assert isinstance(structured.data, dict) and "temperature" in structured.data
        assert json.loads(structured.content) == structured.data or structured.content


async def test_memory_server_keeps_state_across_calls(tmp_path: Path) -> None:
    memory_file = tmp_path / "memory.jsonl"
    config = McpServer(
        command=[node_bin("mcp-server-memory")], env={"MEMORY_FILE_PATH": str(memory_file)}
    )
    async with McpSource(config) as source:
        created = await _tool(source, "create_entities").call(
            {"entities": [{"name": "brainjar", "entityType": "project", "observations": ["jars"]}]}
        )
        assert not created.is_error, created.content
        graph = await _tool(source, "read_graph").call({})
        assert "brainjar" in graph.content
        assert source.connections == 1  # one session for both calls


async def test_is_error_results_become_tool_errors() -> None:
    async with McpSource(_toy()) as source:
        result = await _tool(source, "refuse").call({"reason": "no way"})
        assert result.is_error
        assert result.content == "refused: no way"


async def test_stateful_toy_counts_on_one_session() -> None:
    async with McpSource(_toy()) as source:
        bump = _tool(source, "bump")
        assert [(await bump.call({})).content for _ in range(3)] == ["1", "2", "3"]


async def test_server_killed_mid_call_gives_a_tool_error_then_restarts(tmp_path: Path) -> None:
    mark = tmp_path / "sleeping"
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(_toy()) as source:
            first_pid = int((await _tool(source, "pid").call({})).content)
            outcome: list[BaseException | str] = []

            async def long_call() -> None:
                try:
                    result = await _tool(source, "sleep").call({"seconds": 60, "mark": str(mark)})
                    outcome.append(result.content)
                except ToolError as exc:
                    outcome.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(long_call)
                await _until(mark.exists)
                os.kill(first_pid, signal.SIGKILL)
            assert len(outcome) == 1 and isinstance(outcome[0], ToolError), outcome
            assert "went away during the call to sleep" in str(outcome[0])
            # The next call waits for the restarted server and works.
            second_pid = int((await _tool(source, "pid").call({})).content)
            assert second_pid != first_pid
            assert source.connections == 2
        with pytest.raises(ProcessLookupError):
            os.kill(second_pid, 0)  # stopped in order when the source closed: no orphan


async def test_http_server_that_starts_late_joins(toy_http: list) -> None:
    port = free_port()
    config = McpServer(url=f"http://127.0.0.1:{port}/mcp", timeout=5)
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(config) as source:
            assert source.name == f"mcp:127.0.0.1:{port}"
            assert source.tools() == []  # not up yet: entering did not wait for it
            toy_http.append(start_toy("--http", str(port)))
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            bump = _tool(source, "bump")
            assert (await bump.call({})).content == "1"
            assert (await bump.call({})).content == "2"


async def test_http_server_that_drops_is_reconnected(toy_http: list) -> None:
    port = free_port()
    config = McpServer(url=f"http://127.0.0.1:{port}/mcp", timeout=5)
    toy_http.append(start_toy("--http", str(port)))
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(config) as source:
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            assert (await _tool(source, "bump").call({})).content == "1"
            toy_http[0].kill()
            toy_http[0].wait()
            with pytest.raises(ToolError):
                await _tool(source, "bump").call({})
            toy_http.append(start_toy("--http", str(port)))
            await _until(lambda: source.connections == 2)
            assert (await _tool(source, "bump").call({})).content == "1"  # a new process


async def test_sse_server(toy_http: list) -> None:
    port = free_port()
    toy_http.append(start_toy("--sse", str(port)))
    config = McpServer(url=f"http://127.0.0.1:{port}/sse", transport="sse", timeout=5)
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(config) as source:
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            assert (await _tool(source, "bump").call({})).content == "1"


async def test_server_that_hangs_on_tools_list_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="brainjar.mcp")
    with anyio.fail_after(15):
        async with McpSource(_toy("--hang-list", timeout=1)) as source:
            assert source.tools() == []
            assert not source.connected
    messages = [r.getMessage() for r in caplog.records]
    assert any("or initialize and tools/list within 1s" in m for m in messages)
    assert any("not up yet" in m for m in messages)


async def test_hanging_servers_open_together() -> None:
    # Each source gives up on its first connection after timeout + ENTER_MARGIN;
    # three opened one after another would take three times that.
    timeout = 2.0
    one = timeout + ENTER_MARGIN
    sources = [McpSource(_toy("--hang-list", timeout=timeout)) for _ in range(3)]
    with anyio.CancelScope() as opening:
        opening.deadline = anyio.current_time() + 2 * one  # less than 3 * one, more than one
        async with ToolSet(sources) as toolset:
            opening.deadline = math.inf  # it opened in time; closing is not part of the limit
            assert toolset.tools() == []
    assert not opening.cancelled_caught, "the three sources did not open together"


async def test_url_secrets_stay_out_of_names_and_warnings(
    toy_http: list, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="brainjar.mcp")
    port = free_port()
    url = f"http://jar:s3cret-pass@127.0.0.1:{port}/mcp?token=s3cret-token"
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(McpServer(url=url, timeout=1)) as source:
            assert source.name == f"mcp:127.0.0.1:{port}"
            toy_http.append(start_toy("--http", str(port)))  # not up at first: warnings
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            assert {t.source for t in source.tools()} == {f"mcp:127.0.0.1:{port}"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot connect" in m for m in messages)
    assert not [m for m in messages if "s3cret" in m or "jar:" in m]


def test_redact_removes_user_info_and_query() -> None:
    url = "https://jar:s3cret@example.com:8443/mcp?token=abc123"
    text = f"Client error '401 Unauthorized' for url '{url}'"
    assert redact(text, url) == (
        "Client error '401 Unauthorized' for url 'https://***@example.com:8443/mcp?***'"
    )
    assert display_url(url) == "example.com:8443"
    assert display_url("http://[::1]:9/mcp") == "[::1]:9"
