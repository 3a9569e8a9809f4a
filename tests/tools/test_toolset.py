"""ToolSet: every source opened together, one failure closing the rest, name clashes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import anyio
import pytest

from brainjar.tools import StaticSource, Tool, ToolResult, ToolSet

# How long a source waits for the others; a set that opens them one by one never gets there.
LIMIT = 10.0


async def ok(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content="ok")


def make(name: str, source: str) -> Tool:
    schema = {"type": "object"}
    return Tool(name=name, description=source, parameters=schema, call=ok, source=source)


class Source(StaticSource):
    """A source whose opening waits for ``wait_for`` (if any), then succeeds or fails."""

    def __init__(
        self,
        name: str,
        tools: Sequence[Tool] = (),
        *,
        wait_for: Sequence[anyio.Event] = (),
        fails: Exception | None = None,
    ) -> None:
        super().__init__(tools, name=name)
        self.wait_for = wait_for
        self.fails = fails
        self.started = anyio.Event()
        self.opened = anyio.Event()
        self.closed = False

    async def __aenter__(self) -> Self:
        self.started.set()
        with anyio.fail_after(LIMIT):
            for event in self.wait_for:
                await event.wait()
        if self.fails is not None:
            raise self.fails
        self.opened.set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed = True


async def test_sources_open_concurrently() -> None:
    names = ["mcp:a", "mcp:b", "mcp:c"]
    sources = [Source(n, [make(n[-1], n)]) for n in names]
    for source in sources:
        # Each one opens only once all three have started opening.
        source.wait_for = [s.started for s in sources]
    toolset = ToolSet(sources)
    async with toolset:
        assert all(s.opened.is_set() for s in sources)
        assert [t.name for t in toolset.tools()] == ["a", "b", "c"]
    assert all(s.closed for s in sources)


async def test_a_source_that_fails_to_open_fails_the_set_and_closes_the_others() -> None:
    first, last = Source("first"), Source("last")
    broken = Source(
        "broken",
        wait_for=[first.opened, last.opened],
        fails=ConnectionError("mcp:broken: cannot reach http://127.0.0.1:9/mcp"),
    )
    with pytest.raises(ConnectionError, match="cannot reach"):
        async with ToolSet([first, broken, last]):
            raise AssertionError("the set opened although a source failed")
    assert first.opened.is_set() and last.opened.is_set()
    assert first.closed and last.closed
    assert not broken.closed  # it never opened


async def test_a_name_clash_keeps_the_first_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = StaticSource([make("read", "mcp:files"), make("list", "mcp:files")], name="mcp:files")
    second = StaticSource([make("read", "mcp:docs"), make("find", "mcp:docs")], name="mcp:docs")
    caplog.set_level(logging.WARNING, logger="brainjar.tools")
    async with ToolSet([first, second]) as toolset:
        for _ in range(3):
            tools = toolset.tools()
            assert [(t.name, t.source) for t in tools] == [
                ("read", "mcp:files"),
                ("list", "mcp:files"),
                ("find", "mcp:docs"),
            ]
        assert toolset.get("read") is tools[0]
    warnings = [r.getMessage() for r in caplog.records if r.name == "brainjar.tools"]
    assert warnings == [
        "tool 'read' of mcp:docs is left out: mcp:files has one of that name "
        "(give one of them a prefix)"
    ]


async def test_a_change_in_any_source_is_a_change_of_the_set() -> None:
    first, second = StaticSource([]), StaticSource([])
    seen: list[int] = []
    async with ToolSet([first, second]) as toolset:
        version = toolset.version

        async def watch() -> None:
            seen.append(await toolset.wait_changed(version))

        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await anyio.wait_all_tasks_blocked()
                second.set([make("new", "python")])
        assert [t.name for t in toolset.tools()] == ["new"]
    assert seen == [version + 1]
