"""LangChain tools attach by import path, in every form, and run off the loop."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from brainjar.adapters.langchain import LangChainSource

from brainjar import ManifestError, ToolError
from brainjar.runtime._loop import LoopSettings, _run_call
from brainjar.runtime._messages import ToolCall
from brainjar.tools._toolset import ToolSet, wrap

MOD = "lc_sample_tools"


async def names(target: str, **kwargs: object) -> list[str]:
    async with LangChainSource(f"{MOD}:{target}", kwargs=kwargs) as source:
        return [t.name for t in source.tools()]


async def test_every_form_a_manifest_can_name() -> None:
    assert await names("word_count") == ["word_count"]  # a @tool function
    assert await names("Greeter", greeting="Hi") == ["greet"]  # a BaseTool subclass
    assert await names("Kit", suffix="_x") == ["greet_x", "word_count"]  # a toolkit class
    assert await names("make_tools", count=3) == ["greet_0", "greet_1", "greet_2"]  # a factory


async def test_constructor_arguments_reach_the_tool() -> None:
    async with LangChainSource(f"{MOD}:Greeter", kwargs={"greeting": "Hi"}) as source:
        (greet,) = source.tools()
        assert (await greet.call({"who": "Ada"})).content == "Hi, Ada!"
        assert greet.parameters["required"] == ["who"]


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        ("no_such_module_xyz:Thing", {}, "cannot import no_such_module_xyz"),
        (f"{MOD}:Nope", {}, "has no attribute 'Nope'"),
        (f"{MOD}:NotATool", {}, "is a NotATool, not a tool"),
        (f"{MOD}:broken_factory", {}, "the factory needs a database"),
        (f"{MOD}:word_count", {"x": 1}, "already built: remove 'with'"),
        (f"{MOD}:Greeter", {"greeting": 123}, f"langchain: {MOD}:Greeter: building it"),
    ],
)
async def test_import_and_construction_failures_name_the_entry(
    target: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        async with LangChainSource(target, kwargs=kwargs):
            pass


async def test_include_exclude_and_prefix_wrap_the_source() -> None:
    source = wrap(
        LangChainSource(f"{MOD}:Kit"),
        include=["greet", "word_count"],
        exclude=["greet"],
        prefix="lc_",
    )
    async with ToolSet([source]) as tools:
        assert [t.name for t in tools.tools()] == ["lc_word_count"]


async def test_a_sync_tool_runs_in_a_thread_without_blocking_the_loop() -> None:
    import lc_sample_tools

    lc_sample_tools.released.clear()
    async with LangChainSource(f"{MOD}:wait_for_release") as source:
        (tool,) = source.tools()
        result: list[str] = []

        async def call() -> None:
            result.append((await tool.call({})).content)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                # Had the tool held the loop, we would never get here.
                await anyio.lowlevel.checkpoint()
                lc_sample_tools.released.set()
        assert result == ["released"]


async def test_a_tool_exception_becomes_an_error_the_model_reads() -> None:
    async with LangChainSource(f"{MOD}:always_fails") as source:
        (tool,) = source.tools()
        with pytest.raises(ToolError, match="disk full"):
            await tool.call({"reason": "disk full"})
        events: list[object] = []

        async def emit(e: object) -> None:
            events.append(e)

        text = await _run_call(
            ToolCall(id="1", name="always_fails", arguments='{"reason": "disk full"}'),
            {tool.name: tool},
            settings=LoopSettings(),
            emit=emit,  # type: ignore[arg-type]
            record=lambda r: None,
        )
        assert "disk full" in text
        assert type(events[-1]).__name__ == "ToolCallFailed"


async def test_the_real_file_management_toolkit(tmp_path: Path) -> None:
    (tmp_path / "todo.txt").write_text("water the plants\n")
    source = wrap(
        LangChainSource(
            "langchain_community.agent_toolkits:FileManagementToolkit",
            kwargs={"root_dir": str(tmp_path)},
        ),
        include=["read_file", "list_directory"],
    )
    async with ToolSet([source]) as tools:
        listing = tools.get("list_directory")
        reader = tools.get("read_file")
        assert listing is not None and reader is not None
        assert "todo.txt" in (await listing.call({})).content
        assert (await reader.call({"file_path": "todo.txt"})).content == "water the plants\n"
        outside = await reader.call({"file_path": "../../etc/passwd"})
        assert "Access denied" in outside.content
