"""Sync LangChain tools run in their source's own threads: a tool that exits or
hangs takes down neither the jar nor the other sources' tools."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import lc_sample_tools as sample
import pytest
from brainjar.adapters.langchain import LangChainSource

from brainjar import ToolError
from brainjar.jar._jar import Jar
from brainjar.testing import FunctionModel, call, reply
from brainjar.tools import Tool

MOD = "lc_sample_tools"
# Generous limits for a loaded 2-core machine; none of them is what a test measures.
TEST_LIMIT = 30.0
THREAD_END_LIMIT = 10.0


@asynccontextmanager
async def hanging() -> AsyncIterator[None]:
    """Lets ``hang`` calls block, and releases and joins them when the test ends."""
    sample.unhang.clear()
    while sample.hung.acquire(blocking=False):  # what an earlier test left over
        pass
    try:
        yield
    finally:
        sample.unhang.set()
        for thread in threading.enumerate():
            if thread.name.startswith("brainjar tool hang"):
                await anyio.to_thread.run_sync(thread.join, THREAD_END_LIMIT)


async def wait_hung(count: int) -> None:
    """Waits until ``count`` more ``hang`` calls are blocked in their threads."""
    for _ in range(count):
        assert await anyio.to_thread.run_sync(sample.hung.acquire, True, THREAD_END_LIMIT)


async def abandon_hung_calls(tool: Tool, count: int) -> None:
    """Starts ``count`` calls of ``hang`` and gives up on them, as a tool timeout does."""
    async with anyio.create_task_group() as tg:
        for i in range(count):
            tg.start_soon(tool.call, {"label": f"hung {i}"})
        await wait_hung(count)
        tg.cancel_scope.cancel()


def by_name(source: LangChainSource) -> dict[str, Tool]:
    return {t.name: t for t in source.tools()}


async def test_sys_exit_in_a_sync_tool_is_a_tool_error() -> None:
    async with LangChainSource(f"{MOD}:exits") as source:
        (tool,) = source.tools()
        for _ in range(2):  # the source's thread came back: it works again
            with pytest.raises(
                ToolError, match=r"exits tried to end the process \(SystemExit: 3\)"
            ):
                await tool.call({"code": 3})
        assert source.threads.running == 0


async def test_argparse_exiting_on_a_bad_command_line_is_a_tool_error() -> None:
    async with LangChainSource(f"{MOD}:cli") as source:
        (tool,) = source.tools()
        with pytest.raises(ToolError, match=r"SystemExit: 2"):
            await tool.call({"command_line": "--cont 3"})
        assert (await tool.call({"command_line": "--count 3"})).content == "3"


async def test_stuck_threads_hold_only_their_own_source() -> None:
    with anyio.fail_after(TEST_LIMIT):
        async with (
            hanging(),
            LangChainSource(f"{MOD}:hang_kit", threads=2) as stuck,
            LangChainSource(f"{MOD}:word_count", threads=2) as other,
        ):
            tools = by_name(stuck)
            await abandon_hung_calls(tools["hang"], 2)
            assert (stuck.threads.running, stuck.threads.stuck) == (2, 2)

            # Another source's sync tool still gets a thread.
            (count,) = other.tools()
            assert (await count.call({"text": "still runs"})).content == "2"

            # The same source refuses at once instead of queueing behind its stuck threads.
            with pytest.raises(ToolError) as refused:
                await tools["word_count"].call({"text": "queued forever"})
            message = str(refused.value)
            assert f"langchain:{MOD}:hang_kit has 2 threads stuck in tools that did not return" in (
                message
            )
            assert "word_count was not started" in message

            # Released, the threads end and give their places back.
            sample.unhang.set()
            for thread in threading.enumerate():
                if thread.name.startswith("brainjar tool hang"):
                    await anyio.to_thread.run_sync(thread.join, THREAD_END_LIMIT)
            assert stuck.threads.running == 0
            assert (await tools["word_count"].call({"text": "works again"})).content == "2"


async def test_calls_beyond_the_pool_wait_for_calls_still_awaited() -> None:
    with anyio.fail_after(TEST_LIMIT):
        async with hanging(), LangChainSource(f"{MOD}:hang", threads=2) as source:
            (tool,) = source.tools()
            results: list[str] = []

            async def run(label: str) -> None:
                results.append((await tool.call({"label": label})).content)

            async with anyio.create_task_group() as tg:
                for label in "abcde":  # five at once on two threads: none is stuck, all run
                    tg.start_soon(run, label)
                await wait_hung(2)
                sample.unhang.set()
            assert sorted(results) == [f"{label} returned" for label in "abcde"]


async def test_a_jar_with_a_hung_sync_tool_closes(tmp_path: Path) -> None:
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        f"""\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {{name: stuck}}
spec:
  model: {{backend: openai, endpoint: "http://127.0.0.1:9/v1", name: scripted}}
  tools:
    - langchain: {MOD}:hang
  loop: {{transcripts: false}}
"""
    )
    model = FunctionModel([call("hang", {"label": "forever"}), reply("never")])
    with anyio.fail_after(TEST_LIMIT):
        async with hanging():
            async with Jar.load(manifest, client=model) as jar, anyio.create_task_group() as tg:
                tg.start_soon(jar.ask, "hang, please")
                await wait_hung(1)
                tg.cancel_scope.cancel()
            # The jar is closed while its tool's thread is still blocked.
            assert any(t.name.startswith("brainjar tool hang") for t in threading.enumerate())
