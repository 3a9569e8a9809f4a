"""Constrained tool calls: the reply schema, the prompt, the parser, and the client
over a real HTTP server that answers in the JSON reply format."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import jsonschema
import pytest
from client_support import USER, turn

from brainjar import Message, ToolSpec
from brainjar._errors import ModelError
from brainjar.models._answer_stream import AnswerStreamer
from brainjar.models._constrained import ConstrainedClient
from brainjar.models._openai import OpenAIClient
from brainjar.models._toolschema import (
    arguments_schema,
    build_reply_schema,
    history_messages,
    parse_reply,
    reply_schema,
    tools_prompt,
)
from brainjar.runtime._messages import ToolCall
from brainjar.testing import ScriptedModelServer, reply

LIST = ToolSpec(
    name="list_directory",
    description="List files and directories in a specified folder",
    parameters={
        "type": "object",
        "properties": {
            "dir_path": {"type": "string", "default": ".", "description": "Subdirectory"}
        },
    },
)
READ = ToolSpec(
    name="read_file",
    description="Read file from disk",
    parameters={
        "type": "object",
        "properties": {
            "file_path": {"type": "string", "format": "path"},
            "mode": {"$ref": "#/$defs/Mode"},
        },
        "required": ["file_path"],
        "$defs": {"Mode": {"enum": ["text", "bytes"], "title": "Mode"}},
    },
)
TOOLS = (LIST, READ)


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def test_auto_allows_one_call_of_an_offered_tool_or_an_answer() -> None:
    schema = build_reply_schema(TOOLS)
    jsonschema.validate(_call("read_file", {"file_path": "todo.txt"}), schema)
    jsonschema.validate(_call("list_directory", {}), schema)
    jsonschema.validate({"answer": "notes.txt and todo.txt"}, schema)
    wrong = [
        _call("delete_file", {"file_path": "x"}),  # not offered
        _call("read_file", {}),  # a required argument missing
        _call("read_file", {"file_path": "x", "invented": 1}),  # an argument it lacks
        _call("read_file", {"file_path": 3}),  # the wrong type
        {"tool_calls": []},
        {"tool_calls": [_call("list_directory", {})["tool_calls"][0]] * 2},  # one per step
        {"answer": "x", "tool_calls": []},
    ]
    for reply_value in wrong:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(reply_value, schema)


def test_required_and_a_named_tool_allow_no_answer() -> None:
    required = build_reply_schema(TOOLS, choice="required")
    jsonschema.validate(_call("list_directory", {}), required)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"answer": "no"}, required)
    named = build_reply_schema(TOOLS, choice="read_file")
    jsonschema.validate(_call("read_file", {"file_path": "a"}), named)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_call("list_directory", {}), named)
    with pytest.raises(ValueError, match="not an offered tool"):
        build_reply_schema(TOOLS, choice="nope")


def test_arguments_are_cleaned_for_a_grammar() -> None:
    cleaned = arguments_schema(READ.parameters)
    text = json.dumps(cleaned)
    for gone in ("format", "default", "title", "$ref", "$defs", "description"):
        assert gone not in text
    assert cleaned["properties"]["mode"] == {"enum": ["text", "bytes"]}
    assert cleaned["additionalProperties"] is False
    # BFCL's own type names are left unconstrained rather than rejected.
    loose = arguments_schema({"type": "dict", "properties": {"x": {"type": "float"}}})
    assert loose == {"type": "object", "properties": {"x": {}}, "additionalProperties": False}


def test_schemas_are_cached_per_tool_set_and_choice() -> None:
    assert reply_schema(TOOLS) is reply_schema(list(TOOLS))
    assert reply_schema(TOOLS) is not reply_schema(TOOLS, choice="required")
    assert reply_schema(TOOLS) is not reply_schema((LIST,))


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama-cpp")
def test_llama_cpp_compiles_the_schema_to_a_grammar() -> None:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(json.dumps(reply_schema(TOOLS)))
    assert '\\"list_directory\\"' in grammar and '\\"read_file\\"' in grammar
    assert "answer" in grammar


def test_prompt_shows_each_tool_and_the_reply_format() -> None:
    prompt = tools_prompt(TOOLS)
    assert 'list_directory(dir_path: string = ".")' in prompt
    assert "Read file from disk" in prompt and '"file_path"' in prompt
    assert '{"tool_calls": [{"name"' in prompt and '{"answer"' in prompt
    assert "Call the tool read_file now" in tools_prompt(TOOLS, choice="read_file")


def test_history_shows_calls_as_json_and_keeps_tool_results() -> None:
    call = ToolCall(id="c1", name="list_directory", arguments="{}")
    history = [
        Message(role="system", content="You are a clerk."),
        Message(role="user", content="What is there?"),
        Message(role="assistant", tool_calls=(call,)),
        Message(
            role="tool", content="notes.txt\ntodo.txt", tool_call_id="c1", name="list_directory"
        ),
    ]
    shown = history_messages(history, TOOLS)
    assert shown[0].role == "system" and shown[0].content.startswith("You are a clerk.\n\n")
    assert "list_directory" in shown[0].content
    assert json.loads(shown[2].content) == _call("list_directory", {})
    assert shown[3].role == "user"
    assert shown[3].content.startswith("Tool result (list_directory):\nnotes.txt; todo.txt")
    assert history_messages(history[1:2], TOOLS)[0].role == "system"


def test_parse_reply() -> None:
    parsed = parse_reply(json.dumps(_call("read_file", {"file_path": "todo.txt"})))
    assert parsed is not None and parsed.tool_calls[0].name == "read_file"
    assert parsed.tool_calls[0].parsed_arguments() == {"file_path": "todo.txt"}
    answer = parse_reply('{"answer": "two files"}')
    assert answer is not None and answer.answer == "two files" and not answer.tool_calls
    plain = parse_reply("  just text ")
    assert plain is not None and plain.answer == "just text"
    assert parse_reply('{"tool_calls": [{"name": "read_fi') is None


def test_answer_streamer_decodes_the_answer_as_it_comes() -> None:
    text = json.dumps({"answer": 'It says "buy milk"\n\u00e9 and \\ done'})
    streamer = AnswerStreamer()
    out = "".join(streamer.feed(char) for char in text)
    assert out == 'It says "buy milk"\n\u00e9 and \\ done'
    calls = AnswerStreamer()
    assert "".join(calls.feed(c) for c in json.dumps(_call("list_directory", {}))) == ""
    plain = AnswerStreamer()
    assert "".join(plain.feed(c) for c in "hello there") == "hello there"


async def test_client_asks_with_a_schema_and_no_tools_field() -> None:
    text = json.dumps(_call("read_file", {"file_path": "todo.txt"}))
    async with ScriptedModelServer([reply(text, chunks=5)]) as server:
        inner = OpenAIClient(base_url=server.openai_base_url, model="m", max_retries=0)
        client = ConstrainedClient(inner)
        try:
            deltas, response = await turn(
                client, tools=TOOLS, parameters={"tool_choice": "required", "max_tokens": 50}
            )
        finally:
            await client.aclose()
        body = server.requests[0].body
    assert deltas == []
    (call,) = response.message.tool_calls
    assert (call.name, call.parsed_arguments()) == ("read_file", {"file_path": "todo.txt"})
    assert response.finish_reason == "tool_calls"
    assert "tools" not in body and "tool_choice" not in body
    assert body["response_format"] == {
        "type": "json_object",
        "schema": reply_schema(TOOLS, choice="required"),
    }
    assert body["max_tokens"] == 50
    assert body["messages"][0]["role"] == "system"
    assert "read_file(file_path: string" in body["messages"][0]["content"]


async def test_client_streams_an_answer_and_prompt_mode_sends_no_schema() -> None:
    text = json.dumps({"answer": "There are notes.txt and todo.txt."})
    async with ScriptedModelServer([reply(text, chunks=7, pace=0.02)]) as server:
        client = ConstrainedClient(
            OpenAIClient(base_url=server.openai_base_url, model="m", max_retries=0),
            mode="prompt",
        )
        try:
            deltas, response = await turn(client, USER, tools=TOOLS)
        finally:
            await client.aclose()
        body = server.requests[0].body
    assert len(deltas) > 1 and "".join(deltas) == "There are notes.txt and todo.txt."
    assert response.message.content == "There are notes.txt and todo.txt."
    assert not response.message.tool_calls
    assert "response_format" not in body and "tools" not in body


async def test_a_tool_call_cut_off_is_a_model_error() -> None:
    cut = '{"tool_calls": [{"name": "read_file", "arguments": {"file_pa'
    async with ScriptedModelServer([reply(cut)]) as server:
        client = ConstrainedClient(
            OpenAIClient(base_url=server.openai_base_url, model="m", max_retries=0)
        )
        try:
            with pytest.raises(ModelError, match=r"cut off.*max_tokens"):
                await turn(client, tools=TOOLS)
        finally:
            await client.aclose()


async def test_a_repeated_call_is_asked_again_for_the_answer() -> None:
    again = json.dumps(_call("list_directory", {}))
    answer = json.dumps({"answer": "notes.txt and todo.txt"})
    made = ToolCall(id="c1", name="list_directory", arguments="{}")
    history = [
        *USER,
        Message(role="assistant", tool_calls=(made,)),
        Message(
            role="tool", content="notes.txt\ntodo.txt", tool_call_id="c1", name="list_directory"
        ),
    ]
    # The scripted server picks a step by the assistant turns a request holds.
    async with ScriptedModelServer([reply("unused"), reply(again), reply(answer)]) as server:
        client = ConstrainedClient(
            OpenAIClient(base_url=server.openai_base_url, model="m", max_retries=0)
        )
        try:
            deltas, response = await turn(client, history, tools=TOOLS)
        finally:
            await client.aclose()
        asked = [r.body for r in server.requests]
    assert response.message.content == "notes.txt and todo.txt"
    assert not response.message.tool_calls and "".join(deltas) == "notes.txt and todo.txt"
    assert len(asked) == 2
    last = asked[1]["messages"][-1]
    assert last["role"] == "user" and "(list_directory):\nnotes.txt; todo.txt" in last["content"]
    assert asked[1]["response_format"]["schema"]["required"] == ["answer"]
