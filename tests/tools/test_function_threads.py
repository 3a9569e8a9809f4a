"""A sync ``@tool`` function runs in its own bounded threads: a call that times
out gives up on its thread at once, the stuck thread counts against the pool,
and closing the jar never waits for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio

from brainjar.jar._jar import Jar
from brainjar.runtime._messages import Message
from brainjar.testing import FunctionModel, FunctionRequest, Step, call, reply
from brainjar.tools import StaticSource, ToolThreads, tool

# Generous limits for a loaded 2-core machine; none of them is what the test measures.
TEST_LIMIT = 30.0
THREAD_END_LIMIT = 10.0

release = threading.Event()
entered = threading.Semaphore(0)
pool = ToolThreads("python:stuck tools", size=1)


@tool(threads=pool)
def wait_for_release(label: str) -> str:
    """Blocks until the test releases it, as a tool stuck on a dead socket does."""
    entered.release()
    release.wait()
    return f"{label} released"


def echo_tool_message(messages: list[Message], request: FunctionRequest) -> Step:
    """Calls the stuck tool, then answers with what the tool message said."""
    if request.tool_messages:
        return reply(f"the tool said: {request.tool_messages[-1]}")
    return call("wait_for_release", {"label": "first"})


@contextmanager
def released_at_the_end() -> Iterator[None]:
    release.clear()
    try:
        yield
    finally:
        release.set()
        for thread in threading.enumerate():
            if thread.name.startswith("brainjar tool wait_for_release"):
                thread.join(THREAD_END_LIMIT)


async def test_a_stuck_sync_tool_times_out_holds_its_thread_and_does_not_hold_the_jar(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {name: stuck}
spec:
  model: {backend: openai, endpoint: "http://127.0.0.1:9/v1", name: scripted}
  loop: {transcripts: false, tool_timeout: 300ms}
"""
    )
    model = FunctionModel(echo_tool_message)
    source = StaticSource([wait_for_release])
    with released_at_the_end(), anyio.fail_after(TEST_LIMIT):
        async with Jar.load(manifest, client=model, extra_sources=[source]) as jar:
            # The call times out while its function still blocks; the conversation goes on.
            answer = await jar.ask("wait, please")
            assert "wait_for_release did not finish within 0.3s" in str(answer)
            assert await anyio.to_thread.run_sync(entered.acquire, True, THREAD_END_LIMIT)
            assert (pool.running, pool.stuck) == (1, 1)

            # The pool's one thread is stuck: the next call is refused at once, and says why.
            answer = await jar.ask("once more")
            assert "python:stuck tools has 1 threads stuck in tools that did not return" in (
                str(answer)
            )
            assert "wait_for_release was not started" in str(answer)
            assert (pool.running, pool.stuck) == (1, 1)
        # The jar closed while the tool's thread is still blocked in the function.
        assert not release.is_set()
        assert any(
            t.name.startswith("brainjar tool wait_for_release") for t in threading.enumerate()
        )
