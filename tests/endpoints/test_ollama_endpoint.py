"""The real ollama library talks to a jar as to an Ollama server."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import ollama
import pytest
from endpoint_helpers import ANSWER, served


async def test_chat_not_streamed_runs_the_jars_tool_loop(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama") as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            response = await client.chat(
                model="adder", messages=[{"role": "user", "content": "2 + 3?"}], stream=False
            )
        finally:
            await client.close()
    assert response.message.content == ANSWER
    assert response.done and response.done_reason == "stop"
    assert jar.tool_results() == ["5"]


async def test_chat_streamed_as_ndjson(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama") as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            stream = await client.chat(
                model="adder:latest", messages=[{"role": "user", "content": "2 + 3?"}], stream=True
            )
            parts = [part async for part in stream]
        finally:
            await client.close()
    assert "".join(p.message.content or "" for p in parts) == ANSWER
    assert len([p for p in parts if p.message.content]) > 1
    assert parts[-1].done and not any(p.done for p in parts[:-1])


async def test_sync_library_in_a_thread_chat_generate_list_show(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama", repeat=True) as jar:

        def use_the_sync_client() -> dict[str, object]:
            client = ollama.Client(host=jar.url)
            try:
                chat = client.chat(model="adder", messages=[{"role": "user", "content": "2+3"}])
                streamed = "".join(
                    part.message.content or ""
                    for part in client.chat(
                        model="adder", messages=[{"role": "user", "content": "2+3"}], stream=True
                    )
                )
                generated = client.generate(model="adder", prompt="2+3")
                return {
                    "chat": chat.message.content,
                    "streamed": streamed,
                    "generate": generated.response,
                    "list": [m.model for m in client.list().models],
                    "show": client.show("adder").capabilities,
                    "ps": [m.model for m in client.ps().models],
                }
            finally:
                client.close()

        with anyio.fail_after(30):
            got = await anyio.to_thread.run_sync(use_the_sync_client)
    assert got == {
        "chat": ANSWER,
        "streamed": ANSWER,
        "generate": ANSWER,
        "list": ["adder:latest"],
        "show": ["completion"],
        "ps": ["adder:latest"],
    }


async def test_unknown_model_is_404_in_ollamas_error_layout(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama") as jar:
        client = ollama.AsyncClient(host=jar.url)
        try:
            with pytest.raises(ollama.ResponseError) as caught:
                await client.chat(model="llama3", messages=[{"role": "user", "content": "hi"}])
            assert caught.value.status_code == 404
            assert "model 'llama3' not found" in caught.value.error
            with pytest.raises(ollama.ResponseError):
                await client.show("llama3")
        finally:
            await client.close()


async def test_what_the_ollama_cli_asks_before_a_chat(tmp_path: Path) -> None:
    """``ollama run`` checks the heartbeat, shows the model, then loads it with no messages."""
    async with served(tmp_path, kind="ollama") as jar, httpx.AsyncClient(base_url=jar.url) as http:
        assert (await http.head("/")).status_code == 200
        assert (await http.get("/")).text == "Ollama is running"
        assert (await http.get("/api/version")).json()["version"]
        assert (await http.post("/api/show", json={"name": "adder"})).status_code == 200
        load = await http.post("/api/chat", json={"model": "adder", "messages": []})
        assert load.json()["done"] and load.json()["done_reason"] == "load"
        gen = await http.post("/api/generate", json={"model": "adder"})
        assert gen.json()["done_reason"] == "load"
        assert jar.model.requests == []  # loading runs no conversation


async def test_tool_activity_rides_on_empty_lines_the_clients_ignore(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama") as jar, httpx.AsyncClient(base_url=jar.url) as http:
        body = {"model": "adder", "messages": [{"role": "user", "content": "2+3"}]}
        response = await http.post("/api/chat", json=body)  # stream is the default
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    activity = [line["brainjar"] for line in lines if "brainjar" in line and not line["done"]]
    assert [a["type"] for a in activity] == ["tool_call_started", "tool_call_finished"]
    assert all(line["message"]["content"] == "" for line in lines if "brainjar" in line)
    assert lines[-1]["brainjar"] == {"steps": 2, "stop_reason": "answer"}


async def test_client_tools_are_refused_unless_ignored(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "mine", "parameters": {"type": "object"}}}]
    body = {"model": "adder", "messages": [{"role": "user", "content": "2+3"}], "stream": False}
    async with served(tmp_path, kind="ollama") as jar, httpx.AsyncClient(base_url=jar.url) as http:
        refused = await http.post("/api/chat", json={**body, "tools": tools})
        ignored = await http.post(
            "/api/chat",
            json={**body, "tools": tools},
            headers={"x-brainjar-client-tools": "ignore"},
        )
    assert refused.status_code == 400 and "runs its own tools" in refused.json()["error"]
    assert ignored.json()["message"]["content"] == ANSWER
