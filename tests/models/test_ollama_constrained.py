"""Constrained tool calls on Ollama and OpenAI-compatible backends, at the HTTP boundary.

``start_model`` wraps the backend's client in ``ConstrainedClient`` when
``spec.model.tool_calls`` asks for it: the request then carries the reply's
JSON schema (Ollama's ``format``; OpenAI's ``response_format`` ``json_schema``)
and no ``tools`` field, and the reply is parsed back into tool calls.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from client_support import turn

from brainjar.jar._model import start_model
from brainjar.manifest._models import ModelConfig
from brainjar.testing import ScriptedModelServer, reply

CALL = json.dumps({"tool_calls": [{"name": "add", "arguments": {"a": 1}}]})


async def _one_turn(config: dict[str, Any], server: ScriptedModelServer) -> Any:
    async with AsyncExitStack() as stack:
        client = await start_model(
            ModelConfig.model_validate(config), stack=stack, base_dir=Path(".")
        )
        _, response = await turn(client)
    return response


def _is_reply_schema(schema: Any) -> bool:
    text = json.dumps(schema)
    return isinstance(schema, dict) and '"add"' in text and "tool_calls" in text


async def test_ollama_constrained_sends_the_schema_as_format_and_no_tools() -> None:
    async with ScriptedModelServer([reply(CALL)]) as server:
        config = {
            "backend": "ollama",
            "name": "tiny",
            "endpoint": server.url,
            "tool_calls": "constrained",
        }
        response = await _one_turn(config, server)
    body = server.requests[0].body
    assert not body.get("tools")  # the SDK may send tools: null
    assert _is_reply_schema(body["format"]), body.get("format")
    assert [(c.name, json.loads(c.arguments)) for c in response.message.tool_calls] == [
        ("add", {"a": 1})
    ]
    assert response.finish_reason == "tool_calls"


async def test_ollama_prompt_mode_sends_neither_tools_nor_format() -> None:
    async with ScriptedModelServer([reply(CALL)]) as server:
        config = {"backend": "ollama", "name": "tiny", "endpoint": server.url}
        config["tool_calls"] = "prompt"
        response = await _one_turn(config, server)
    body = server.requests[0].body
    assert not body.get("tools") and "format" not in body
    assert [c.name for c in response.message.tool_calls] == ["add"]


async def test_ollama_default_stays_native() -> None:
    async with ScriptedModelServer([reply("3")]) as server:
        config = {"backend": "ollama", "name": "tiny", "endpoint": server.url}
        response = await _one_turn(config, server)
    body = server.requests[0].body
    assert body["tools"][0]["function"]["name"] == "add" and "format" not in body
    assert response.message.content == "3"


async def test_openai_constrained_sends_a_strict_json_schema() -> None:
    async with ScriptedModelServer([reply(CALL)]) as server:
        config = {
            "backend": "openai",
            "name": "tiny",
            "endpoint": server.openai_base_url,
            "tool_calls": "constrained",
        }
        response = await _one_turn(config, server)
    body = server.requests[0].body
    assert not body.get("tools")  # the SDK may send tools: null
    shape = body["response_format"]
    assert shape["type"] == "json_schema"
    assert shape["json_schema"]["strict"] is True and shape["json_schema"]["name"]
    assert _is_reply_schema(shape["json_schema"]["schema"])
    assert [c.name for c in response.message.tool_calls] == ["add"]


async def test_openai_default_stays_native() -> None:
    async with ScriptedModelServer([reply("3")]) as server:
        config = {"backend": "openai", "name": "tiny", "endpoint": server.openai_base_url}
        await _one_turn(config, server)
    body = server.requests[0].body
    assert body["tools"][0]["function"]["name"] == "add" and "response_format" not in body
