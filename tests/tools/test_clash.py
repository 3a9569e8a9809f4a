"""Name clashes between local and discovered tool sources: local wins, and it is said."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from brainjar.tools import StaticSource, Tool, ToolResult, ToolSet
from brainjar.tools._toolset import Discovered


async def ok(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content="ok")


def make(name: str, source: str) -> Tool:
    return Tool(name=name, description=name, parameters={"type": "object"}, call=ok, source=source)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "tool_clash"]


async def test_a_local_tool_wins_over_a_discovered_one_listed_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = StaticSource([make("read", "grpc:far@10.0.0.9:1")], name="discover:*")
    local = StaticSource([make("read", "mcp:files")], name="mcp:files")
    caplog.set_level(logging.WARNING, logger="brainjar.tools")
    async with ToolSet([Discovered(found), local]) as toolset:
        assert [(t.name, t.source) for t in toolset.tools()] == [("read", "mcp:files")]
        toolset.tools()
        [clash] = toolset.clashes()
    assert (clash.winner, clash.losers) == ("mcp:files", ("grpc:far@10.0.0.9:1",))
    assert "local sources win" in clash.why and "prefer: discovered" in clash.why
    assert _warnings(caplog) == [
        f"tool 'read' of grpc:far@10.0.0.9:1 is left out: mcp:files has one of that name "
        f"({clash.why})"
    ]


async def test_prefer_discovered_lets_the_discovered_tool_win() -> None:
    found = StaticSource([make("read", "grpc:far@10.0.0.9:1")], name="discover:*")
    local = StaticSource([make("read", "mcp:files")], name="mcp:files")
    async with ToolSet([local, Discovered(found, prefer=True)]) as toolset:
        assert [t.source for t in toolset.tools()] == ["grpc:far@10.0.0.9:1"]
        [clash] = toolset.clashes()
        assert clash.losers == ("mcp:files",)


async def test_a_discovered_tool_never_stands_in_for_a_local_one_that_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = StaticSource([make("read", "grpc:far@10.0.0.9:1")], name="discover:*")
    local = StaticSource([make("read", "mcp:files"), make("list", "mcp:files")], name="mcp:files")
    caplog.set_level(logging.WARNING, logger="brainjar.tools")
    async with ToolSet([local, Discovered(found)]) as toolset:
        assert [t.source for t in toolset.tools()] == ["mcp:files", "mcp:files"]
        local.set([])  # the local MCP server went down
        assert toolset.tools() == []
        [clash] = toolset.clashes()
        assert (clash.name, clash.winner) == ("read", "")
        assert "mcp:files offered it before" in clash.why
        local.set([make("read", "mcp:files")])  # and came back
        assert [t.source for t in toolset.tools()] == ["mcp:files"]
    assert any("is left out: mcp:files offered it before" in w for w in _warnings(caplog))


async def test_a_discovered_tool_with_no_local_rival_is_used() -> None:
    found = StaticSource([make("find", "grpc:far@10.0.0.9:1")], name="discover:*")
    local = StaticSource([make("read", "mcp:files")], name="mcp:files")
    async with ToolSet([Discovered(found), local]) as toolset:
        assert [t.name for t in toolset.tools()] == ["find", "read"]
        assert toolset.clashes() == []
