"""OllamaClient against the scripted model server on loopback."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from client_support import USER, turn

from brainjar import Message, ModelClient, ModelError, ToolCall
from brainjar.models._ollama import OllamaClient
from brainjar.testing import ScriptedModel, ScriptedModelServer, call, calls, fail, reply


def _client(server: ScriptedModelServer, **kwargs: Any) -> OllamaClient:
    return OllamaClient(host=server.url, model="tiny", **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_text_streams_in_deltas_then_one_response() -> None:
    async with ScriptedModelServer([reply("The answer is 3.", chunks=3)]) as server:
        client = _client(server)
        assert isinstance(client, ModelClient)
        try:
            deltas, response = await turn(client)
        finally:
            await client.aclose()
    assert len(deltas) == 3 and "".join(deltas) == "The answer is 3."
    assert response.message == Message(role="assistant", content="The answer is 3.")
    assert response.finish_reason == "stop"
    assert response.usage.completion_tokens > 0
    body = server.requests[0].body
    assert body["stream"] is True and body["model"] == "tiny"
    assert body["tools"][0]["function"]["name"] == "add"


async def test_tool_calls_get_ids_and_json_text() -> None:
    script = [calls(call("add", {"a": 1, "b": 2}), call("add", {"a": "é"}))]
    async with ScriptedModelServer(script) as server:
        client = _client(server)
        try:
            deltas, response = await turn(client)
        finally:
            await client.aclose()
    assert deltas == []
    found = response.message.tool_calls
    assert [(c.name, json.loads(c.arguments)) for c in found] == [
        ("add", {"a": 1, "b": 2}),
        ("add", {"a": "é"}),
    ]
    assert all(c.id for c in found) and found[0].id != found[1].id
    assert response.finish_reason == "tool_calls"


async def test_history_carries_arguments_as_objects_and_tool_names() -> None:
    history = [
        *USER,
        Message(
            role="assistant",
            tool_calls=(
                ToolCall(id="c1", name="add", arguments='{"a": 1}'),
                ToolCall(id="c2", name="add", arguments='{"a": 3,'),  # malformed: sent as {}
            ),
        ),
        Message(role="tool", content="1", tool_call_id="c1", name="add"),
        Message(role="tool", content="bad arguments", tool_call_id="c2", name="add"),
    ]
    async with ScriptedModelServer([call("x"), reply("1")]) as server:
        client = _client(server)
        try:
            _, response = await turn(client, history)
        finally:
            await client.aclose()
    assert response.message.content == "1"
    sent = server.requests[0].messages
    assert sent[1]["role"] == "assistant" and not sent[1].get("content")  # the SDK drops ""
    assert [c["function"] for c in sent[1]["tool_calls"]] == [
        {"name": "add", "arguments": {"a": 1}},
        {"name": "add", "arguments": {}},
    ]
    assert sent[2] == {"role": "tool", "content": "1", "tool_name": "add"}


async def test_parameters_go_in_options() -> None:
    parameters = {
        "temperature": 0,
        "top_p": 0.9,
        "seed": 7,
        "num_ctx": 2048,
        "max_tokens": 5,
        "stop": ["\n"],
        "tool_choice": "required",
        "keep_alive": "1m",
    }
    async with ScriptedModelServer([reply("a")]) as server:
        client = _client(server)
        try:
            await turn(client, tools=(), parameters=parameters)
        finally:
            await client.aclose()
    body = server.requests[0].body
    assert body["options"] == {
        "temperature": 0,
        "top_p": 0.9,
        "seed": 7,
        "num_ctx": 2048,
        "num_predict": 5,
        "stop": ["\n"],
    }
    assert body["keep_alive"] == "1m"
    assert "tool_choice" not in body and not body.get("tools")


async def test_server_down_names_the_host() -> None:
    host = f"http://127.0.0.1:{_free_port()}"
    client = OllamaClient(host=host, model="tiny")
    try:
        with pytest.raises(ModelError) as caught:
            await turn(client)
    finally:
        await client.aclose()
    assert f"is Ollama running at {host}" in str(caught.value)


async def test_http_errors_become_model_errors() -> None:
    script = [fail(500, "model crashed"), fail(404, "model 'tiny' not found")]
    async with ScriptedModelServer(script) as server:
        client = _client(server)
        try:
            with pytest.raises(ModelError) as crashed:
                await turn(client)
            with pytest.raises(ModelError) as missing:
                await turn(client, [*USER, Message(role="assistant", content="x")])
        finally:
            await client.aclose()
    assert "HTTP 500: model crashed" in str(crashed.value)
    assert server.url in str(crashed.value)
    assert "ollama pull tiny" in str(missing.value)


async def test_unreadable_arguments_and_timeouts_become_model_errors() -> None:
    # Ollama's arguments are objects; a string is refused by the SDK's models.
    script = [call("add", '{"a": 3,'), reply("late", delay=60)]
    async with ScriptedModelServer(script) as server:
        client = _client(server, timeout=0.2)
        try:
            with pytest.raises(ModelError, match="cannot read"):
                await turn(client)
            with pytest.raises(ModelError, match=r"did not answer within 0\.2s"):
                await turn(client, [*USER, Message(role="assistant", content="x")])
        finally:
            await client.aclose()


async def test_a_response_format_becomes_format_and_counts_are_read() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    json_schema = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}
    script = ScriptedModel([reply("{}", finish_reason="length", usage=(4, 2))], repeat=True)
    async with ScriptedModelServer(script) as server:
        client = _client(server)
        try:
            json_object = {"response_format": {"type": "json_object"}}
            _, cut = await turn(client, tools=(), parameters=json_object)
            await turn(client, tools=(), parameters={"response_format": json_schema})
            await turn(client, tools=(), parameters={"response_format": {"type": "text"}})
        finally:
            await client.aclose()
    first, second, text = (r.body for r in server.requests)
    assert first["format"] == "json" and second["format"] == schema and "format" not in text
    assert all("response_format" not in (r.get("options") or {}) for r in (first, second, text))
    assert cut.finish_reason == "length"
    assert (cut.usage.prompt_tokens, cut.usage.completion_tokens) == (4, 2)


DEAD_PROXY = "http://127.0.0.1:9"  # discard port: nothing listens there


async def test_an_ollama_on_this_machine_is_not_asked_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Corporate machines set HTTP_PROXY; httpx alone would send localhost there."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with ScriptedModelServer([reply("hi there")]) as server:
        client = _client(server)
        try:
            _, response = await turn(client)
        finally:
            await client.aclose()
    assert response.message.content == "hi there"


async def test_an_ollama_elsewhere_is_asked_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The scripted server stands in for the proxy: it reads the absolute-form target.
    async with ScriptedModelServer([reply("via the proxy")]) as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = OllamaClient(host="http://ollama.example:11434", model="tiny")
        try:
            _, response = await turn(client)
        finally:
            await client.aclose()
        assert response.message.content == "via the proxy"
        assert proxy.requests[0].path == "/api/chat"
