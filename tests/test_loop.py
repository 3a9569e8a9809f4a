"""The tool-calling loop.

Its logic runs on an in-process ``FunctionModel``; what only the wire shows (the
OpenAI and Ollama layouts, a server that is not there) on the scripted model
server over real HTTP, in both protocols.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

import brainjar
from brainjar import (
    Answer,
    Message,
    ModelError,
    StepStarted,
    TextDelta,
    Tool,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
    ToolResult,
)
from brainjar.cli._render import JsonRenderer
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.testing import (
    FunctionModel,
    FunctionRequest,
    ScriptedModelServer,
    Step,
    call,
    calls,
    fail,
    reply,
)
from brainjar.tools._toolset import StaticSource

PROTOCOLS = ["openai", "ollama"]
# How long a test waits for a tool it started, or a conversation that should end.
LIMIT = 30.0


def manifest(model: dict[str, Any], tmp_path: Path, **loop: Any) -> JarManifest:
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


def over_http(
    protocol: str, server: ScriptedModelServer, tmp_path: Path, **loop: Any
) -> JarManifest:
    model = (
        {"backend": "openai", "endpoint": server.openai_base_url, "name": "scripted"}
        if protocol == "openai"
        else {"backend": "ollama", "endpoint": server.url, "name": "scripted"}
    )
    return manifest(model, tmp_path, **loop)


def in_process(
    model: FunctionModel, tmp_path: Path, tools: Sequence[Tool] = (), **loop: Any
) -> Jar:
    """A jar whose model is ``model``; the manifest's endpoint is never reached."""
    spec = {"backend": "openai", "endpoint": "http://127.0.0.1:9/v1", "name": "function"}
    return Jar(manifest(spec, tmp_path, **loop), client=model, extra_sources=[StaticSource(tools)])


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
    with anyio.fail_after(LIMIT):
        async with jar.events(prompt) as events:
            return [e async for e in events]


def tool_messages(server: ScriptedModelServer) -> list[str]:
    """What the model was told about its tool calls, in its last request."""
    body = server.requests[-1].body
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


# --- The loop's logic, on an in-process FunctionModel (no HTTP) ----------------------


async def test_tool_calls_run_in_parallel(tmp_path: Path) -> None:
    ping_seen, pong_seen = anyio.Event(), anyio.Event()

    async def ping(args: dict[str, Any]) -> ToolResult:
        ping_seen.set()
        await pong_seen.wait()  # only returns if pong runs at the same time
        return ToolResult(content="ping")

    async def pong(args: dict[str, Any]) -> ToolResult:
        pong_seen.set()
        await ping_seen.wait()
        return ToolResult(content="pong")

    model = FunctionModel([calls(call("ping", {}), call("pong", {})), reply("both")])
    jar = in_process(model, tmp_path, [tool("ping", ping), tool("pong", pong)], tool_timeout="20s")
    async with jar:
        with anyio.fail_after(LIMIT):
            answer = await jar.ask("go")
    assert answer.text == "both"
    # In call order, whatever finished first.
    assert model.requests[-1].tool_messages == ["ping", "pong"]


async def test_every_tool_failure_is_a_message_the_model_reads(tmp_path: Path) -> None:
    async def hangs(args: dict[str, Any]) -> ToolResult:
        await anyio.sleep_forever()
        raise AssertionError

    async def crashes(args: dict[str, Any]) -> ToolResult:
        raise RuntimeError("segfault in the flux capacitor")

    async def says_no(args: dict[str, Any]) -> ToolResult:
        return ToolResult.error("permission denied")

    broken = calls(
        call("hangs", {}),
        call("crashes", {}),
        call("says_no", {}),
        call("add", {"a": "two", "b": 3}),
        call("nope", {}),
        call("add", '{"a": 1, "b":'),
    )
    tools = [ADD, tool("hangs", hangs), tool("crashes", crashes), tool("says_no", says_no)]
    model = FunctionModel([broken, reply("done")])
    async with in_process(model, tmp_path, tools, tool_timeout="300ms") as jar:
        events = await run(jar, "break things")
    failed = {e.name + ":" + e.kind for e in events if isinstance(e, ToolCallFailed)}
    assert failed == {
        "hangs:timeout",
        "crashes:error",
        "says_no:error",
        "add:bad_arguments",
        "nope:unknown_tool",
        "add:malformed_arguments",
    }
    told = model.requests[-1].tool_messages
    assert "did not finish within 0.3s" in told[0]
    assert "RuntimeError: segfault in the flux capacitor" in told[1]
    assert told[2] == "error: permission denied"  # every tool failure is marked alike
    assert "bad arguments for add" in told[3] and "'two' is not of type 'integer'" in told[3]
    assert "no tool named 'nope'" in told[4] and "add" in told[4]
    assert "are not a JSON object" in told[5]
    assert isinstance(events[-1], Answer) and events[-1].text == "done"


async def test_a_tool_that_exits_is_an_error_and_the_jar_answers_on(tmp_path: Path) -> None:
    def quits(code: int) -> str:
        """Ends the process, as a command-line tool would."""
        sys.exit(code)

    def answer(messages: list[Message], request: FunctionRequest) -> Step | str:
        if messages[-1].content == "run it":
            return call("quits", {"code": 3})
        if messages[-1].role == "tool":
            return f"the tool said: {messages[-1].content}"
        return "still here"

    model = FunctionModel(answer)
    async with in_process(model, tmp_path, [brainjar.tool(quits)]) as jar:
        with anyio.fail_after(LIMIT):
            first = await jar.ask("run it")
            second = await jar.ask("are you there?")
    assert first.text.startswith("the tool said: error: quits tried to end the process")
    assert "SystemExit: 3" in first.text
    assert second.text == "still here" and len(model.requests) == 3


async def test_max_steps_ends_the_loop_with_a_clear_event(tmp_path: Path) -> None:
    model = FunctionModel([call("add", {"a": 1, "b": 1})], repeat=True)
    async with in_process(model, tmp_path, [ADD], max_steps=3) as jar:
        events = await run(jar, "loop forever")
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2, 3]
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.stop_reason == "max_steps" and answer.steps == 3
    assert len(model.requests) == 3


async def test_tool_choice_holds_until_the_first_call(tmp_path: Path) -> None:
    # How each protocol spells tool_choice is the model clients' part (tests/models/).
    model = FunctionModel([call("add", {"a": 1, "b": 1}), reply("2")])
    async with in_process(model, tmp_path, [ADD], tool_choice="add") as jar:
        await jar.ask("1+1")
    first, second = (r.parameters for r in model.requests)
    assert first["tool_choice"] == "add"
    assert second.get("tool_choice", "auto") == "auto"


async def test_the_transcript_is_written_as_it_happens(tmp_path: Path) -> None:
    started = anyio.Event()

    async def slow(args: dict[str, Any]) -> ToolResult:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    model = FunctionModel([call("slow", {})])
    async with (
        in_process(model, tmp_path, [tool("slow", slow)]) as jar,
        jar.events("wait") as events,
    ):
        async for event in events:
            if isinstance(event, ToolCallStarted):
                with anyio.fail_after(LIMIT):
                    await started.wait()
                (path,) = (tmp_path / "transcripts").glob("*.jsonl")
                lines = [json.loads(x) for x in path.read_text().splitlines()]
                # Before the conversation ends, the file already holds it so far.
                assert [x["type"] for x in lines][:3] == ["start", "message", "message"]
                assert lines[-1]["type"] == "tool_call_started"
                break  # leaving the block cancels the loop and the tool
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[-2]["kind"] == "cancelled" and lines[-1]["type"] == "cancelled"


async def test_a_model_failure_is_raised_and_recorded(tmp_path: Path) -> None:
    # An HTTP error becoming a ModelError is the model clients' part (tests/models/).
    async with in_process(FunctionModel([fail(500, "out of memory")]), tmp_path) as jar:
        with pytest.raises(ModelError, match="out of memory"):
            await jar.ask("hello")
    (path,) = (tmp_path / "transcripts").glob("*.jsonl")
    assert json.loads(path.read_text().splitlines()[-1])["type"] == "error"


async def test_a_chat_keeps_its_history(tmp_path: Path) -> None:
    model = FunctionModel([reply("hi"), reply("again")])
    async with in_process(model, tmp_path) as jar:
        history: list[Any] = []
        for prompt in ("hello", "and again"):
            async with jar.events(prompt, history=history) as events:
                async for _ in events:
                    pass
    roles = [m.role for m in model.requests[-1].messages]
    assert roles == ["system", "user", "assistant", "user"]


# --- Over real HTTP, in both protocols ----------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_tool_call_then_an_answer(protocol: str, tmp_path: Path) -> None:
    script: list[Step] = [call("add", {"a": 2, "b": 3}), reply("It is 5.", chunks=3, pace=0.02)]
    async with ScriptedModelServer(script) as server:
        jar = Jar(over_http(protocol, server, tmp_path), extra_sources=[StaticSource([ADD])])
        async with jar:
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


async def test_a_model_server_that_is_not_there(tmp_path: Path) -> None:
    async with ScriptedModelServer([reply("x")]) as server:
        m = over_http("openai", server, tmp_path)
    # The server is gone now; its port is closed.
    async with Jar(m) as jar:
        with pytest.raises(ModelError, match=server.url.split("//")[1]):
            await jar.ask("anyone?")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_usage_is_summed_and_a_cut_off_answer_stops_for_length(
    protocol: str, tmp_path: Path
) -> None:
    script: list[Step] = [
        calls(call("add", {"a": 2, "b": 3}), text="Let me add.", usage=(10, 4)),
        reply("It is", finish_reason="length", usage=(20, 6)),
    ]
    async with ScriptedModelServer(script) as server:
        jar = Jar(over_http(protocol, server, tmp_path), extra_sources=[StaticSource([ADD])])
        async with jar:
            events = await run(jar, "what is 2+3?")
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert answer.stop_reason == "length" and answer.finish_reason == "length"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (30, 10)
    # --json prints the answer with its usage and reasons.
    out = io.StringIO()
    JsonRenderer(out=out)(answer)
    printed = json.loads(out.getvalue())
    assert printed["usage"]["prompt_tokens"] == 30 and printed["stop_reason"] == "length"
    # The transcript: each model reply with its own finish reason and usage, the sum last.
    (path,) = (tmp_path / "transcripts").glob("*.jsonl")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    replies = [x for x in lines if x["type"] == "message" and x["role"] == "assistant"]
    assert [(r["finish_reason"], r["usage"]["completion_tokens"]) for r in replies] == [
        ("tool_calls", 4),
        ("length", 6),
    ]
    assert lines[-1]["type"] == "answer" and lines[-1]["usage"]["completion_tokens"] == 10


async def test_the_answer_is_the_text_of_every_step_as_it_streamed(tmp_path: Path) -> None:
    model = FunctionModel(
        [
            calls(call("add", {"a": 2, "b": 3}), text="Let me add."),
            calls(call("add", {"a": 5, "b": 1}), text=" \n"),  # only whitespace: adds nothing
            reply("It is 6."),
        ]
    )
    async with in_process(model, tmp_path, [ADD]) as jar:
        events = await run(jar, "2+3+1?")
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert answer.text == "Let me add.\n\nIt is 6."
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer.text
    # The model's own history keeps each step's text as it said it.
    assert [m.content for m in model.requests[-1].messages if m.role == "assistant"] == [
        "Let me add.",
        " \n",
    ]


async def test_a_response_format_shapes_the_final_answer_only(tmp_path: Path) -> None:
    shape = {"type": "json_schema", "json_schema": {"name": "sum", "schema": {"type": "object"}}}

    def model_turn(messages: list[Message], request: FunctionRequest) -> Step | str:
        if "response_format" in request.parameters:
            return reply('{"sum": 5}')
        if not request.tool_messages:
            return calls(call("add", {"a": 2, "b": 3}), text="Adding.")
        return "The sum is 5."  # a draft in free text: asked again, in the format

    model = FunctionModel(model_turn)
    async with in_process(model, tmp_path, [ADD]) as jar:
        with anyio.fail_after(LIMIT):
            async with jar.events("2+3?", parameters={"response_format": shape}) as stream:
                events = [e async for e in stream]
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.stop_reason == "answer" and answer.steps == 3
    assert answer.text == '{"sum": 5}'
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer.text
    tool_step, draft, formatted = model.requests
    assert "response_format" not in tool_step.parameters and tool_step.tool_names == ["add"]
    assert "response_format" not in draft.parameters
    assert formatted.parameters["response_format"] == shape and formatted.tools == ()
    # The draft was set aside: the formatted turn saw the same conversation.
    assert formatted.messages == draft.messages
