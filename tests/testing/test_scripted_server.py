"""The scripted model server, driven by the real openai and ollama SDKs over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import httpx
import ollama
import openai
import pytest

from brainjar.testing import (
    ScriptedModel,
    ScriptedModelServer,
    ScriptedRequest,
    Step,
    call,
    calls,
    fail,
    reply,
)

LIMIT = 10.0
USER = [{"role": "user", "content": "What is 1 + 2?"}]


def _openai(server: ScriptedModelServer, **kwargs: float) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="x", max_retries=0, **kwargs)


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    # A thread of its own: pytest-asyncio sets a fixture up and tears it down in
    # different tasks, and a task group (the server's) must end in the task it began.
    script = [
        call("add", {"a": 1, "b": 2}),
        calls(call("add", {"a": 1}), call("mul", '{"a": 3', id="given")),
        reply("The answer is 3.", chunks=4),
    ]
    with ScriptedModelServer(script).run_in_thread() as server:
        yield server


def _history(k: int) -> list[dict[str, object]]:
    """A conversation that already holds ``k`` assistant turns."""
    messages: list[dict[str, object]] = list(USER)
    for i in range(k):
        messages += [
            {"role": "assistant", "content": f"turn {i}"},
            {"role": "user", "content": "go on"},
        ]
    return messages


async def test_openai_async_not_streamed(server: ScriptedModelServer) -> None:
    async with _openai(server) as client:
        first = await client.chat.completions.create(model="m", messages=_history(0))
        last = await client.chat.completions.create(model="m", messages=_history(2))
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    tool_call = choice.message.tool_calls[0]
    assert tool_call.type == "function"
    assert (tool_call.id, tool_call.function.name) == ("call_0_0", "add")
    assert json.loads(tool_call.function.arguments) == {"a": 1, "b": 2}
    assert first.usage is not None and first.usage.total_tokens > 0
    assert last.choices[0].message.content == "The answer is 3."
    assert last.choices[0].finish_reason == "stop"


async def test_openai_async_streamed_parallel_calls(server: ScriptedModelServer) -> None:
    async with _openai(server) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=_history(1),
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: dict[int, dict[str, str]] = {}
        finish, usage = None, None
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for d in choice.delta.tool_calls or []:
                    slot = pieces.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                    slot["id"] += d.id or ""
                    assert d.function is not None
                    slot["name"] += d.function.name or ""
                    slot["arguments"] += d.function.arguments or ""
    assert pieces == {
        0: {"id": "call_1_0", "name": "add", "arguments": '{"a": 1}'},
        1: {"id": "given", "name": "mul", "arguments": '{"a": 3'},  # sent verbatim
    }
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens > 0


async def test_openai_streamed_text_in_deltas(server: ScriptedModelServer) -> None:
    async with _openai(server) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=_history(2),
            stream=True,
        )
        deltas = [c.choices[0].delta.content async for c in stream if c.choices]
    text = [d for d in deltas if d]
    assert "".join(text) == "The answer is 3."
    assert len(text) == 4


def test_openai_sync_client_and_run_in_thread() -> None:
    with (
        ScriptedModelServer([reply("hello there")]).run_in_thread() as server,
        openai.OpenAI(base_url=server.openai_base_url, api_key="x", max_retries=0) as client,
    ):
        answer = client.chat.completions.create(model="m", messages=USER)
        stream = client.chat.completions.create(model="m", messages=USER, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert [m.id for m in client.models.list()] == ["scripted"]
    assert answer.choices[0].message.content == "hello there"
    assert streamed == "hello there"
    assert [r.stream for r in server.requests] == [False, True]


async def test_ollama_async_streamed_and_not(server: ScriptedModelServer) -> None:
    async with ollama.AsyncClient(host=server.url) as client:
        parts = [p async for p in await client.chat(model="m", messages=_history(2), stream=True)]
        called = await client.chat(model="m", messages=_history(0), stream=False)
    assert "".join(p.message.content or "" for p in parts) == "The answer is 3."
    assert [p.done for p in parts][-1] is True
    assert parts[-1].done_reason == "stop" and (parts[-1].eval_count or 0) > 0
    tool_calls = called.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in tool_calls] == [
        ("add", {"a": 1, "b": 2})
    ]


async def test_ollama_tool_calls_streamed() -> None:
    script = [calls(call("add", {"a": 1}), call("mul", '{"a": 3}'))]
    async with (
        ScriptedModelServer(script) as server,
        ollama.AsyncClient(host=server.url) as client,
    ):
        parts = [p async for p in await client.chat(model="m", messages=USER, stream=True)]
    found = [
        (c.function.name, dict(c.function.arguments))
        for p in parts
        for c in p.message.tool_calls or []
    ]
    assert found == [("add", {"a": 1}), ("mul", {"a": 3})]
    assert server.requests[0].protocol == "ollama" and server.requests[0].stream


async def test_ollama_malformed_arguments_sent_as_string() -> None:
    async with (
        ScriptedModelServer([call("mul", '{"a": 3')]) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        answer = await http.post(
            "/api/chat", json={"model": "m", "messages": USER, "stream": False}
        )
    assert answer.json()["message"]["tool_calls"] == [
        {"function": {"name": "mul", "arguments": '{"a": 3'}}
    ]


def test_ollama_sync_client_and_model_listing() -> None:
    with ScriptedModelServer([reply("hi")]).run_in_thread() as server:
        client = ollama.Client(host=server.url)
        try:
            answer = client.chat(model="m", messages=USER, stream=False)
            names = [m.model for m in client.list().models]
            shown = client.show("scripted")
            version = client._client.get("/api/version").json()
        finally:
            client.close()
    assert answer.message.content == "hi"
    assert names == ["scripted"]
    assert shown.capabilities is not None and "tools" in shown.capabilities
    assert "version" in version


async def test_concurrent_conversations_walk_the_script_independently() -> None:
    script: list[Step] = [call("add", {"a": 1}), reply("done")]
    async with ScriptedModelServer(script) as server, _openai(server) as client:
        answers: dict[int, list[str]] = {}

        async def conversation(n: int) -> None:
            messages: list[dict[str, object]] = [{"role": "user", "content": f"question {n}"}]
            first = await client.chat.completions.create(model="m", messages=messages)
            calls_ = first.choices[0].message.tool_calls or []
            messages.append(
                {"role": "assistant", "content": "", "tool_calls": [c.model_dump() for c in calls_]}
            )
            messages.append({"role": "tool", "tool_call_id": calls_[0].id, "content": "2"})
            second = await client.chat.completions.create(model="m", messages=messages)
            answers[n] = [calls_[0].function.name, second.choices[0].message.content or ""]

        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(conversation, n)
    assert answers == {n: ["add", "done"] for n in range(20)}
    assert sorted(r.step for r in server.requests) == [0] * 20 + [1] * 20


async def test_exhausted_script_answers_500_with_the_reason() -> None:
    async with ScriptedModelServer([reply("only")]) as server:
        async with _openai(server) as client:
            with pytest.raises(openai.InternalServerError) as caught:
                await client.chat.completions.create(model="m", messages=_history(1))
        async with ollama.AsyncClient(host=server.url) as oclient:
            with pytest.raises(ollama.ResponseError) as ocaught:
                await oclient.chat(model="m", messages=_history(1), stream=False)
    reason = "scripted model: script has 1 steps, conversation asked for step 2"
    assert reason in str(caught.value)
    assert ocaught.value.status_code == 500 and ocaught.value.error == reason


async def test_repeat_wraps_around_and_fail_gives_the_status() -> None:
    model = ScriptedModel([reply("a"), fail(503, "overloaded")], repeat=True)
    async with ScriptedModelServer(model) as server, _openai(server) as client:
        again = await client.chat.completions.create(model="m", messages=_history(2))
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=_history(3))
    assert again.choices[0].message.content == "a"
    assert caught.value.status_code == 503 and "overloaded" in str(caught.value)


async def test_a_function_script_sees_the_request() -> None:
    seen: list[ScriptedRequest] = []

    def script(request: ScriptedRequest) -> Step:
        seen.append(request)
        return reply(f"{request.protocol} step {request.step} tools {len(request.tools)}")

    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    async with ScriptedModelServer(script) as server, _openai(server) as client:
        answer = await client.chat.completions.create(
            model="mine", messages=_history(1), tools=tools
        )
    assert answer.choices[0].message.content == "openai step 1 tools 1"
    assert seen[0].model == "mine" and seen[0].stream is False
    assert seen[0].path == "/v1/chat/completions"
    assert server.requests == seen


async def test_recorded_requests_hold_the_body_in_order() -> None:
    async with (
        ScriptedModelServer([reply("x")], model_name="tiny") as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        await http.post("/api/chat", json={"model": "a", "messages": USER})
        await http.post("/v1/chat/completions", json={"model": "b", "messages": USER})
        bad = await http.post("/v1/chat/completions", content=b"not json")
        tags = (await http.get("/api/tags")).json()
    assert [(r.protocol, r.path, r.body["model"]) for r in server.requests] == [
        ("ollama", "/api/chat", "a"),
        ("openai", "/v1/chat/completions", "b"),
    ]
    assert bad.status_code == 400
    assert tags["models"][0]["name"] == "tiny"


async def test_call_without_id_is_sent_without_one() -> None:
    async with ScriptedModelServer([call("add", {}, id="")]) as server, _openai(server) as client:
        answer = await client.chat.completions.create(model="m", messages=USER)
    assert server.requests[0].body["messages"] == USER
    raw = answer.choices[0].message.tool_calls
    assert raw is not None and getattr(raw[0], "id", None) is None


async def test_delayed_step_and_a_client_that_gives_up() -> None:
    # The server notices the disconnect and stops waiting, so it stops at once.
    async with (
        ScriptedModelServer([reply("late", delay=60)]) as server,
        _openai(server, timeout=0.2) as client,
    ):
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=USER)
    assert len(server.requests) == 1
