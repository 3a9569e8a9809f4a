"""Real OpenAI clients (the openai SDK, LangChain's ChatOpenAI) talk to a jar as to a model."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import openai
import pytest
from endpoint_helpers import ANSWER, served, sse_events

from brainjar.testing import reply


async def test_async_sdk_gets_the_answer_of_the_jars_own_tool_loop(tmp_path: Path) -> None:
    async with served(tmp_path) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            done = await client.chat.completions.create(
                model="adder", messages=[{"role": "user", "content": "2 + 3?"}]
            )
        assert done.choices[0].message.content == ANSWER
        assert done.choices[0].finish_reason == "stop"
        assert jar.tool_results() == ["5"]  # the tool ran on the server
        extra = done.model_extra["brainjar"]
        assert extra["stop_reason"] == "answer" and extra["steps"] == 2
        assert [a["type"] for a in extra["activity"]] == ["tool_call_started", "tool_call_finished"]
        assert extra["activity"][1]["content"] == "5"


async def test_async_sdk_streams_the_answer_as_content_deltas(tmp_path: Path) -> None:
    async with (
        served(tmp_path) as jar,
        openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
    ):
        stream = await client.chat.completions.create(
            model="adder", messages=[{"role": "user", "content": "2 + 3?"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1 and "".join(pieces) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert jar.tool_results() == ["5"]


async def test_sync_sdk_in_a_thread_streaming_and_not(tmp_path: Path) -> None:
    async with served(tmp_path) as jar:

        def use_the_sync_client() -> tuple[str | None, str]:
            with openai.OpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
                whole = client.chat.completions.create(
                    model="adder", messages=[{"role": "user", "content": "2 + 3?"}]
                )
                with client.chat.completions.create(
                    model="adder", messages=[{"role": "user", "content": "2 + 3?"}], stream=True
                ) as stream:
                    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            return whole.choices[0].message.content, text

        with anyio.fail_after(30):
            whole, streamed = await anyio.to_thread.run_sync(use_the_sync_client)
        assert whole == streamed == ANSWER


async def test_langchain_chat_openai_pointed_at_the_jar(tmp_path: Path) -> None:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    async with served(tmp_path) as jar, httpx.AsyncClient() as http:
        llm = ChatOpenAI(
            base_url=jar.url, api_key="-", model="adder", max_retries=0, http_async_client=http
        )
        message = await llm.ainvoke("What is 2 + 3?")
        assert message.content == ANSWER
        streamed = "".join([str(chunk.content) async for chunk in llm.astream("2 + 3?")])
        assert streamed == ANSWER
        assert jar.tool_results() == ["5"]


async def test_models_lists_the_jar_and_unknown_names_are_404(tmp_path: Path) -> None:
    async with served(tmp_path) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            assert [m.id async for m in client.models.list()] == ["adder"]
            assert (await client.models.retrieve("adder")).owned_by == "brainjar"
            with pytest.raises(openai.NotFoundError) as caught:
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
            assert caught.value.code == "model_not_found"
            assert "use model='adder'" in caught.value.message
            with pytest.raises(openai.NotFoundError):
                await client.models.retrieve("gpt-4o")
        assert jar.model.requests == []


async def test_client_tools_are_refused_unless_the_client_says_ignore(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "mine", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "2 + 3?"}]
    async with served(tmp_path, repeat=True) as jar:
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(model="adder", messages=messages, tools=tools)
            assert caught.value.code == "client_tools_not_supported"
            none = await client.chat.completions.create(
                model="adder", messages=messages, tools=tools, tool_choice="none"
            )
            header = await client.chat.completions.create(
                model="adder",
                messages=messages,
                tools=tools,
                extra_headers={"x-brainjar-client-tools": "ignore"},
            )
        assert none.choices[0].message.content == header.choices[0].message.content == ANSWER
        # The model was offered the jar's tool only.
        assert [t["function"]["name"] for t in jar.model.requests[-1].tools] == ["add"]


async def test_stream_shows_tool_activity_as_comments_or_on_request_as_chunks(
    tmp_path: Path,
) -> None:
    body = {"model": "adder", "messages": [{"role": "user", "content": "2+3"}], "stream": True}
    async with served(tmp_path, repeat=True) as jar, httpx.AsyncClient() as http:
        plain = await http.post(jar.url + "/chat/completions", json=body)
        asked = await http.post(
            jar.url + "/chat/completions", json=body, headers={"x-brainjar-activity": "chunks"}
        )
    data, comments = sse_events(plain.text)
    assert plain.headers["content-type"].startswith("text/event-stream")
    assert [json.loads(c.removeprefix(": brainjar "))["type"] for c in comments] == [
        "tool_call_started",
        "tool_call_finished",
    ]
    assert all("brainjar" not in d or d["choices"] for d in data)  # no activity chunks
    assert data[-1]["brainjar"] == {"steps": 2, "stop_reason": "answer"}
    assert plain.text.rstrip().endswith("data: [DONE]")
    data, _ = sse_events(asked.text)
    activity = [d["brainjar"]["name"] for d in data if not d["choices"]]
    assert activity == ["add", "add"]


async def test_an_answer_in_one_piece_still_streams(tmp_path: Path) -> None:
    async with (
        served(tmp_path, [reply("in one piece", chunks=1)]) as jar,
        openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
    ):
        stream = await client.chat.completions.create(
            model="adder", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "in one piece"
