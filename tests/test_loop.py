"""The tool-calling loop, against the scripted model server over real HTTP, in both protocols."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from brainjar import (
    Answer,
    ModelError,
    StepStarted,
    TextDelta,
    Tool,
    ToolCallFailed,
    ToolCallFinished,
    ToolResult,
)
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.tools._toolset import StaticSource
from brainjar.testing import ScriptedModel, ScriptedModelServer, call, calls, fail, reply

PROTOCOLS = ["openai", "ollama"]


def manifest(
    protocol: str, server: ScriptedModelServer, tmp_path: Path, **loop: Any
) -> JarManifest:
    model = (
        {"backend": "openai", "endpoint": server.openai_base_url, "name": "scripted"}
        if protocol == "openai"
        else {"backend": "ollama", "endpoint": server.url, "name": "scripted"}
    )
    return JarManifest.model_validate(
        {
            "apiVersion": "brainjar.dev/v1",
            "kind": "Jar",
            "metadata": {"name": "looper"},
            "spec": {
                "model": {**model, "system": "be brief"},
                "loop": {"transcripts": str(tmp_path / "transcripts"), **loop},
            },
        }
    )


def tool(
    name: str, fn: Any, properties: dict[str, Any] | None = None, required: Sequence[str] = ()
) -> Tool:
    schema = {"type": "object", "properties": properties or {}, "required": list(required)}
    return Tool(
        name=name, description=f"the {name} tool", parameters=schema, call=fn, source="test"
    )


async def add(args: dict[str, Any]) -> ToolResult:
    return ToolResult.of(args["a"] + args["b"])


ADD = tool("add", add, {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"])


async def run(jar: Jar, prompt: str) -> list[Any]:
    async with jar.events(prompt) as events:
        return [e async for e in events]


def tool_messages(server: ScriptedModelServer) -> list[str]:
    """What the model was told about its tool calls, in its last request."""
    body = server.requests[-1].body
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


@pytest.fixture
async def scripted(request: pytest.FixtureRequest) -> AsyncIterator[ScriptedModelServer]:
    async with ScriptedModelServer(request.param) as server:
        yield server


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_tool_call_then_an_answer(protocol: str, tmp_path: Path) -> None:
    async with ScriptedModelServer(
        [call("add", {"a": 2, "b": 3}), reply("It is 5.", chunks=3)]
    ) as server:
        async with Jar(
            manifest(protocol, server, tmp_path), extra_sources=[StaticSource([ADD])]
        ) as jar:
            events = await run(jar, "what is 2+3?")
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(f.name, f.content) for f in finished] == [("add", "5")]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "It is 5."
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.text == "It is 5." and answer.steps == 2
    assert tool_messages(server) == ["5"]
    first = server.requests[0].body
    assert first["messages"][0] == {"role": "system", "content": "be brief"}
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_tool_calls_run_in_parallel(protocol: str, tmp_path: Path) -> None:
    ping_seen, pong_seen = anyio.Event(), anyio.Event()

    async def ping(args: dict[str, Any]) -> ToolResult:
        ping_seen.set()
        await pong_seen.wait()  # only returns if pong runs at the same time
        return ToolResult(content="ping")

    async def pong(args: dict[str, Any]) -> ToolResult:
        pong_seen.set()
        await ping_seen.wait()
        return ToolResult(content="pong")

    script = [calls(call("ping", {}), call("pong", {})), reply("both")]
    async with ScriptedModelServer(script) as server:
        jar = Jar(
            manifest(protocol, server, tmp_path, tool_timeout="20s"),
            extra_sources=[StaticSource([tool("ping", ping), tool("pong", pong)])],
        )
        async with jar:
            with anyio.fail_after(30):
                answer = await jar.ask("go")
    assert answer.text == "both"
    assert tool_messages(server) == ["ping", "pong"]  # in call order, whatever finished first


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_tool_failure_is_a_message_the_model_reads(
    protocol: str, tmp_path: Path
) -> None:
    async def hangs(args: dict[str, Any]) -> ToolResult:
        await anyio.sleep_forever()
        raise AssertionError

    async def crashes(args: dict[str, Any]) -> ToolResult:
        raise RuntimeError("segfault in the flux capacitor")

    async def says_no(args: dict[str, Any]) -> ToolResult:
        return ToolResult.error("permission denied")

    broken = [
        call("hangs", {}),
        call("crashes", {}),
        call("says_no", {}),
        call("add", {"a": "two", "b": 3}),
        call("nope", {}),
    ]
    expected = {
        "hangs:timeout",
        "crashes:error",
        "says_no:error",
        "add:bad_arguments",
        "nope:unknown_tool",
    }
    if protocol == "openai":  # Ollama's wire format (and its SDK) only carries JSON objects
        broken.append(call("add", '{"a": 1, "b":'))
        expected.add("add:malformed_arguments")
    script = [calls(*broken), reply("done")]
    tools = [ADD, tool("hangs", hangs), tool("crashes", crashes), tool("says_no", says_no)]
    async with ScriptedModelServer(script) as server:
        async with Jar(
            manifest(protocol, server, tmp_path, tool_timeout="300ms"),
            extra_sources=[StaticSource(tools)],
        ) as jar:
            events = await run(jar, "break things")
    failed = {e.name + ":" + e.kind for e in events if isinstance(e, ToolCallFailed)}
    assert failed == expected
    told = tool_messages(server)
    assert "did not finish within 0.3s" in told[0]
    assert "RuntimeError: segfault in the flux capacitor" in told[1]
    assert told[2] == "error: permission denied"  # every tool failure is marked alike
    assert "bad arguments for add" in told[3] and "'two' is not of type 'integer'" in told[3]
    assert "no tool named 'nope'" in told[4] and "add" in told[4]
    if protocol == "openai":
        assert "are not a JSON object" in told[5]
    assert isinstance(events[-1], Answer) and events[-1].text == "done"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_max_steps_ends_the_loop_with_a_clear_event(protocol: str, tmp_path: Path) -> None:
    async with ScriptedModelServer(
        ScriptedModel([call("add", {"a": 1, "b": 1})], repeat=True)
    ) as server:
        async with Jar(
            manifest(protocol, server, tmp_path, max_steps=3), extra_sources=[StaticSource([ADD])]
        ) as jar:
            events = await run(jar, "loop forever")
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2, 3]
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.stop_reason == "max_steps" and answer.steps == 3
    assert len(server.requests) == 3


async def test_tool_choice_holds_until_the_first_call(tmp_path: Path) -> None:
    async with ScriptedModelServer([call("add", {"a": 1, "b": 1}), reply("2")]) as server:
        async with Jar(
            manifest("openai", server, tmp_path, tool_choice="add"),
            extra_sources=[StaticSource([ADD])],
        ) as jar:
            await jar.ask("1+1")
    first, second = (r.body for r in server.requests)
    assert first["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert "tool_choice" not in second or second["tool_choice"] == "auto"


async def test_the_transcript_is_written_as_it_happens(tmp_path: Path) -> None:
    started = anyio.Event()

    async def slow(args: dict[str, Any]) -> ToolResult:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    async with ScriptedModelServer([call("slow", {})]) as server:
        async with Jar(
            manifest("openai", server, tmp_path), extra_sources=[StaticSource([tool("slow", slow)])]
        ) as jar:
            async with jar.events("wait") as events:
                async for event in events:
                    if type(event).__name__ == "ToolCallStarted":
                        await started.wait()
                        (path,) = (tmp_path / "transcripts").glob("*.jsonl")
                        lines = [json.loads(x) for x in path.read_text().splitlines()]
                        # Before the conversation ends, the file already holds it so far.
                        assert [x["type"] for x in lines][:3] == ["start", "message", "message"]
                        assert lines[-1]["type"] == "tool_call_started"
                        break  # leaving the block cancels the loop and the tool
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[-2]["kind"] == "cancelled" and lines[-1]["type"] == "cancelled"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_model_failure_is_raised_and_recorded(protocol: str, tmp_path: Path) -> None:
    async with ScriptedModelServer([fail(500, "out of memory")]) as server:
        async with Jar(manifest(protocol, server, tmp_path)) as jar:
            with pytest.raises(ModelError):
                await jar.ask("hello")
    (path,) = (tmp_path / "transcripts").glob("*.jsonl")
    assert json.loads(path.read_text().splitlines()[-1])["type"] == "error"


async def test_a_model_server_that_is_not_there(tmp_path: Path) -> None:
    async with ScriptedModelServer([reply("x")]) as server:
        m = manifest("openai", server, tmp_path)
    # The server is gone now; its port is closed.
    async with Jar(m) as jar:
        with pytest.raises(ModelError, match=server.url.split("//")[1]):
            await jar.ask("anyone?")


async def test_a_chat_keeps_its_history(tmp_path: Path) -> None:
    async with ScriptedModelServer([reply("hi"), reply("again")]) as server:
        async with Jar(manifest("openai", server, tmp_path)) as jar:
            history: list[Any] = []
            for prompt in ("hello", "and again"):
                async with jar.events(prompt, history=history) as events:
                    async for _ in events:
                        pass
    roles = [m["role"] for m in server.requests[-1].body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
