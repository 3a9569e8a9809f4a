"""An MCP server that goes away and comes back: real toy servers over streamable HTTP."""

from __future__ import annotations

import contextvars
import os
import signal
from typing import Any

import anyio
import pytest
from brainjar.adapters.mcp import McpServer, McpSource, _client
from mcp_support import free_port, start_toy, tool_named, wait_listening

# Limits on what each test waits for.
CONNECT_LIMIT = 30.0
TEST_LIMIT = 60.0
POLL_INTERVAL = 0.02
# How long the busy-spin test watches a waiter while the server does not answer,
# and the most wakeups it allows there (one per reconnection attempt, with room).
WATCH_WINDOW = 1.5
MAX_WAKEUPS = 50


async def _until(condition: Any, *, limit: float = CONNECT_LIMIT) -> None:
    """Waits until ``condition()`` holds; polls a state of the source, which has no event."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(POLL_INTERVAL)


def _http(port: int, **options: Any) -> McpServer:
    return McpServer(url=f"http://127.0.0.1:{port}/mcp", **options)


@pytest.fixture
def no_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps pings out of the way, so only the tests' own calls meet the restart."""
    monkeypatch.setattr(_client, "PING_INTERVAL", 3600.0)


@pytest.mark.usefixtures("no_pings")
async def test_first_call_after_a_restart_runs_on_a_new_session(toy_http: list) -> None:
    port = free_port()
    toy_http.append(start_toy("--http", str(port)))
    with anyio.fail_after(TEST_LIMIT):
        await wait_listening(port)
        async with McpSource(_http(port, timeout=5)) as source:
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            bump = tool_named(source, "bump")
            assert (await bump.call({})).content == "1"
            toy_http[0].kill()
            toy_http[0].wait()
            toy_http.append(start_toy("--http", str(port)))
            await wait_listening(port)
            # The new process does not know the old session (404 "Session not
            # found"): the call is made again on a new session, not failed.
            result = await bump.call({})
            assert not result.is_error, result.content
            assert result.content == "1"  # the new process's counter
            assert source.connections == 2
            assert (await bump.call({})).content == "2"  # and that session stays


def _count_waits(monkeypatch: pytest.MonkeyPatch) -> tuple[contextvars.ContextVar[bool], list[int]]:
    """Counts ``Event.wait`` calls made in tasks that set the returned flag.

    Call it in the event loop: ``anyio.Event()`` is the loop's own kind of event there.
    """
    counting: contextvars.ContextVar[bool] = contextvars.ContextVar("counting", default=False)
    calls = [0]
    event_type = type(anyio.Event())
    original = event_type.wait

    async def wait(self: anyio.Event) -> None:
        if counting.get():
            calls[0] += 1
        await original(self)

    monkeypatch.setattr(event_type, "wait", wait)
    return counting, calls


async def test_waiting_for_a_server_that_stopped_answering_does_not_spin(
    toy_http: list,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting, calls = _count_waits(monkeypatch)
    monkeypatch.setattr(_client, "PING_INTERVAL", 0.1)
    port = free_port()
    toy_http.append(start_toy("--http", str(port)))
    with anyio.fail_after(TEST_LIMIT):
        await wait_listening(port)
        async with McpSource(_http(port, timeout=1)) as source:
            assert await source.wait_connected(limit=CONNECT_LIMIT)
            # Stopped, the server still accepts connections but never answers: the
            # ping fails, and closing the session (DELETE) hangs until its limit.
            os.kill(toy_http[0].pid, signal.SIGSTOP)
            try:
                await _until(lambda: not source.connected)
                waited: list[bool] = []

                async def waiter() -> None:
                    counting.set(True)
                    waited.append(await source.wait_connected(limit=WATCH_WINDOW))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(waiter)
                assert waited == [False]
                assert 1 <= calls[0] <= MAX_WAKEUPS, f"{calls[0]} wakeups in {WATCH_WINDOW}s"
            finally:
                os.kill(toy_http[0].pid, signal.SIGCONT)
