"""OpenAIClient against the scripted model server on loopback."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from client_support import ADD, USER, turn

from brainjar import Message, ModelClient, ModelError, ToolCall
from brainjar.models._openai import OpenAIClient
from brainjar.testing import ScriptedModel, ScriptedModelServer, call, calls, fail, reply


def _client(server: ScriptedModelServer, **kwargs: Any) -> OpenAIClient:
    options: dict[str, Any] = {"max_retries": 0, **kwargs}
    return OpenAIClient(base_url=server.openai_base_url, model="tiny", **options)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_text_streams_in_deltas_then_one_response() -> None:
    # Paced as a model generating word by word: what comes in one read is one delta.
    async with ScriptedModelServer([reply("The answer is 3.", pace=0.05)]) as server:
        client = _client(server)
        assert isinstance(client, ModelClient)
        try:
            deltas, response = await turn(client)
        finally:
            await client.aclose()
    assert deltas == ["The ", "answer ", "is ", "3."]
    assert response.message == Message(role="assistant", content="The answer is 3.")
    assert response.finish_reason == "stop"
    assert response.usage.completion_tokens > 0 and response.usage.prompt_tokens > 0
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "tiny"
    assert body["tools"] == [ADD.to_openai()]


async def test_one_tool_call() -> None:
    async with ScriptedModelServer([call("add", {"a": 1, "b": 2})]) as server:
        client = _client(server)
        try:
            deltas, response = await turn(client)
        finally:
            await client.aclose()
    assert deltas == []
    assert response.message.tool_calls == (
        ToolCall(id="call_0_0", name="add", arguments='{"a": 1, "b": 2}'),
    )
    assert response.finish_reason == "tool_calls"


async def test_parallel_calls_and_malformed_arguments_kept_as_text() -> None:
    script = [calls(call("add", {"a": 1}), call("add", '{"a": 3,', id="mine"), text="Let me see.")]
    async with ScriptedModelServer(script) as server:
        client = _client(server)
        try:
            deltas, response = await turn(client)
        finally:
            await client.aclose()
    assert "".join(deltas) == "Let me see." == response.message.content
    assert response.message.tool_calls == (
        ToolCall(id="call_0_0", name="add", arguments='{"a": 1}'),
        ToolCall(id="mine", name="add", arguments='{"a": 3,'),
    )


async def test_calls_without_ids_get_ids() -> None:
    script = [calls(call("add", {"a": 1}, id=""), call("add", {"a": 2}, id=""))]
    async with ScriptedModelServer(script) as server:
        client = _client(server)
        try:
            _, response = await turn(client)
        finally:
            await client.aclose()
    ids = [c.id for c in response.message.tool_calls]
    assert all(ids) and len(set(ids)) == 2
    assert [c.arguments for c in response.message.tool_calls] == ['{"a": 1}', '{"a": 2}']


async def test_history_is_sent_with_empty_content_never_null() -> None:
    # llama.cpp's server answers 500 to an assistant message whose content is null.
    history = [
        Message(role="system", content="Be brief."),
        *USER,
        Message(
            role="assistant",
            tool_calls=(ToolCall(id="c1", name="add", arguments='{"a": 1}'),),
        ),
        Message(role="tool", content="3", tool_call_id="c1", name="add"),
    ]
    async with ScriptedModelServer([call("x"), reply("3")]) as server:
        client = _client(server)
        try:
            _, response = await turn(client, history)
        finally:
            await client.aclose()
    assert response.message.content == "3"
    sent = server.requests[0].messages
    assert sent[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
        ],
    }
    assert sent[3] == {"role": "tool", "content": "3", "tool_call_id": "c1"}
    assert all(m["content"] is not None for m in sent)


async def test_parameters_and_no_tools() -> None:
    parameters = {"temperature": 0, "max_tokens": 5, "seed": 1, "stop": ["\n"], "top_k": 3}
    async with ScriptedModelServer([reply("a"), reply("b")]) as server:
        client = _client(server)
        try:
            await turn(client, tools=(), parameters={**parameters, "tool_choice": "required"})
            await turn(client, parameters={"tool_choice": "add"})
        finally:
            await client.aclose()
    plain, chosen = (r.body for r in server.requests)
    assert "tools" not in plain and "tool_choice" not in plain
    assert {k: plain[k] for k in parameters} == parameters
    assert chosen["tool_choice"] == {"type": "function", "function": {"name": "add"}}


async def test_server_down_names_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    client = OpenAIClient(base_url=url, model="tiny", max_retries=0)
    try:
        with pytest.raises(ModelError) as caught:
            await turn(client)
    finally:
        await client.aclose()
    assert url in str(caught.value)
    assert f"is the model server running at {url}?" in str(caught.value)


async def test_http_error_becomes_model_error() -> None:
    async with ScriptedModelServer([fail(500, "model crashed")]) as server:
        client = _client(server)
        try:
            with pytest.raises(ModelError) as caught:
                await turn(client)
        finally:
            await client.aclose()
    message = str(caught.value)
    assert "HTTP 500" in message and "model crashed" in message
    assert server.openai_base_url in message


async def test_exhausted_script_and_timeout_become_model_errors() -> None:
    async with ScriptedModelServer([reply("late", delay=60)]) as server:
        client = _client(server, timeout=0.2)
        try:
            with pytest.raises(ModelError, match=r"did not answer within 0\.2s"):
                await turn(client)
            with pytest.raises(ModelError, match="script has 1 steps"):
                await turn(client, [*USER, Message(role="assistant", content="x")])
        finally:
            await client.aclose()


async def test_usage_and_a_cut_off_answer_are_read_and_llama_cpp_gets_its_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    json_schema = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    script = ScriptedModel([reply("cut o", finish_reason="length", usage=(7, 3))], repeat=True)
    async with ScriptedModelServer(script) as server:
        plain, llama = _client(server), _client(server, dialect="llama-cpp")
        try:
            _, cut = await turn(plain, tools=(), parameters={"response_format": json_schema})
            await turn(llama, tools=(), parameters={"response_format": json_schema})
        finally:
            await plain.aclose()
            await llama.aclose()
    assert cut.finish_reason == "length"
    assert (cut.usage.prompt_tokens, cut.usage.completion_tokens) == (7, 3)
    sent_plain, sent_llama = (r.body["response_format"] for r in server.requests)
    assert sent_plain == json_schema
    # llama-cpp-python's server knows json_object with a schema, not json_schema.
    assert sent_llama == {"type": "json_object", "schema": schema}


async def test_a_busy_server_is_asked_again_and_then_given_up_on() -> None:
    # One answer per request, in order (a script's steps go by turn, and a retry is
    # the same turn).
    answers = iter(
        [fail(503, "busy"), reply("ok"), fail(503, "busy again"), fail(502, "still busy")]
    )
    async with ScriptedModelServer(ScriptedModel(lambda _: next(answers))) as server:
        patient = _client(server, max_retries=1, api_key="sk-secret-key")
        try:
            _, answer = await turn(patient)
            with pytest.raises(ModelError) as caught:  # retried once, then given up
                await turn(patient, [*USER, Message(role="assistant", content="x")])
        finally:
            await patient.aclose()
    assert answer.message.content == "ok"
    assert len(server.requests) == 4
    assert "HTTP 502" in str(caught.value) and "still busy" in str(caught.value)
    assert "sk-secret-key" not in str(caught.value)
