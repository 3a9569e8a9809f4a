"""Both MCP protocol eras, both directions, and nothing lost in the gateway.

Real third-party peers: the fastmcp client (``auto`` and ``legacy`` modes) in
front of ``serve_tools_http``, and an upstream server written with the ``mcp``
SDK (``conformance_tools.py``), once speaking only 2026-07-28.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from subprocess import Popen

import anyio
import mcp_types as types
import pytest
from brainjar.adapters.mcp import McpServer, McpSource, serve_tools_http
from fastmcp import Client as FastClient
from mcp.client.subscriptions import listen
from mcp_support import STOP_WAIT, free_port, wait_listening

TEST_LIMIT = 60.0
CHANGE_LIMIT = 20.0
POLL_INTERVAL = 0.05
UPSTREAM = Path(__file__).with_name("conformance_tools.py")
MODERN = "2026-07-28"


@pytest.fixture
def upstream() -> Iterator[list[Popen[bytes]]]:
    started: list[Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(STOP_WAIT)


def _spawn(started: list[Popen[bytes]], *flags: str) -> int:
    port = free_port()
    started.append(Popen([sys.executable, str(UPSTREAM), str(port), *flags]))
    return port


async def _start(started: list[Popen[bytes]], *flags: str) -> str:
    port = _spawn(started, *flags)
    await wait_listening(port)
    return f"http://127.0.0.1:{port}/mcp"


async def _until_offered(source: McpSource, name: str) -> None:
    version = source.version
    with anyio.fail_after(CHANGE_LIMIT):
        while name not in {t.name for t in source.tools()}:
            version = await source.wait_changed(version)


async def test_source_speaks_to_a_server_that_knows_only_2026_07_28(upstream: list) -> None:
    with anyio.fail_after(TEST_LIMIT):
        url = await _start(upstream, "--modern-only")
        async with McpSource(McpServer(url=url, timeout=10)) as source:
            assert source.connected
            assert source.protocol_version == MODERN
            names = {t.name for t in source.tools()}
            assert "test_simple_text" in names
            result = await source.call("test_simple_text", {})
            assert result.content == "This is a simple text response for testing."
            # The change arrives on the subscriptions/listen stream (no notifications there).
            await source.call("grow", {})
            await _until_offered(source, "grown_1")


@asynccontextmanager
async def _gateway(url: str) -> AsyncIterator[tuple[str, McpSource]]:
    async with McpSource(McpServer(url=url, timeout=10)) as source, anyio.create_task_group() as tg:
        served = await tg.start(partial(serve_tools_http, source, name="gateway"))
        yield served, source
        tg.cancel_scope.cancel()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_gateway_serves_fastmcp_in_both_eras_and_loses_nothing(
    upstream: list, mode: str
) -> None:
    progress: list[float] = []
    logs: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def on_log(message: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(message.data))

    with anyio.fail_after(TEST_LIMIT):
        url = await _start(upstream)
        async with (
            _gateway(url) as (served, _source),
            FastClient(
                served, mode=mode, progress_handler=on_progress, log_handler=on_log
            ) as client,
        ):
            if mode == "legacy":
                assert client.protocol_version != MODERN
                init = client.initialize_result
                assert init is not None
                # What is sent is advertised, over HTTP as over stdio.
                assert init.capabilities.tools is not None
                assert init.capabilities.tools.list_changed is True
            else:
                assert client.protocol_version == MODERN
            listed = {t.name: t for t in await client.list_tools()}
            simple = listed["test_simple_text"]
            assert simple.title == "test simple text"
            assert simple.annotations is not None and simple.annotations.read_only_hint is True
            assert listed["test_structured"].output_schema is not None
            schema = listed["json_schema_2020_12_tool"].input_schema
            assert "$defs" in schema and schema["additionalProperties"] is False

            image = await client.call_tool_mcp("test_image_content", {})
            assert isinstance(image.content[0], types.ImageContent)
            assert image.content[0].mime_type == "image/png"
            mixed = await client.call_tool_mcp("test_multiple_content_types", {})
            assert [c.type for c in mixed.content] == ["text", "image", "resource"]
            audio = await client.call_tool_mcp("test_audio_content", {})
            assert isinstance(audio.content[0], types.AudioContent)

            await client.call_tool_mcp("test_tool_with_progress", {}, progress_handler=on_progress)
            assert progress == [0, 50, 100]
            if mode == "legacy":  # a 2026-07-28 client opts in to logs per request
                await client.call_tool_mcp("test_tool_with_logging", {})
                assert "Tool execution completed" in logs

            if mode == "auto":
                async with listen(client.session, tools_list_changed=True) as subscription:
                    await client.call_tool_mcp("grow", {})
                    with anyio.fail_after(CHANGE_LIMIT):
                        event = await subscription.__anext__()
                    assert type(event).__name__ == "ToolsListChanged"
            else:
                await client.call_tool_mcp("grow", {})
            await _until_listed(client, "grown_1")


async def _until_listed(client: FastClient, name: str) -> None:
    with anyio.fail_after(CHANGE_LIMIT):
        # Polls: the client sees the change only by listing (another process's list).
        while name not in {t.name for t in await client.list_tools()}:  # noqa: ASYNC110
            await anyio.sleep(POLL_INTERVAL)
