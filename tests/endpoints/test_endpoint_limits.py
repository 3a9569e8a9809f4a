"""Limits and failures in each API's own error layout: bodies, tokens, load, time, hang-ups."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import ollama
import openai
import pytest
from endpoint_helpers import ANSWER, Gate, served

import brainjar.endpoints._server as server_module
from brainjar import TransportError
from brainjar.endpoints import HttpSettings, openai_endpoint
from brainjar.testing import ScriptedModel, ScriptedModelServer, call, fail, reply

CHAT = {"model": "adder", "messages": [{"role": "user", "content": "2 + 3?"}]}
SLOW = [call("slow"), reply("done")]
JSON = {"content-type": "application/json"}
# Starting Python, a `brainjar run` process and its servers; generous for a loaded CI machine.
START_LIMIT = 60.0


@pytest.mark.parametrize(
    ("kind", "path", "body", "status", "says"),
    [
        ("openai", "/v1/chat/completions", b"{not json", 400, "not JSON"),
        ("openai", "/v1/chat/completions", b"[1, 2]", 400, "must be a JSON object"),
        ("openai", "/v1/chat/completions", b'{"model": "adder"}', 400, "messages: Field required"),
        (
            "openai",
            "/v1/chat/completions",
            b'{"model": "adder", "messages": []}',
            400,
            "at least 1",
        ),
        (
            "openai",
            "/v1/chat/completions",
            b'{"model": "adder", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "messages.0.role",
        ),
        ("openai", "/v1/nope", b"{}", 404, "serves POST /v1/chat/completions"),
        ("ollama", "/api/chat", b"{not json", 400, "not JSON"),
        ("ollama", "/api/chat", b'{"messages": []}', 400, "model: Field required"),
        ("ollama", "/api/generate", b'{"model": "adder", "stream": "maybe"}', 400, "stream"),
        ("ollama", "/api/pull", b"{}", 404, "a jar serves /api/chat"),
    ],
)
async def test_malformed_bodies_get_a_4xx_in_the_apis_error_layout(
    tmp_path: Path, kind: str, path: str, body: bytes, status: int, says: str
) -> None:
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        response = await http.post(jar.root + path, content=body, headers=JSON)
    assert response.status_code == status
    error = response.json()["error"]
    message = error["message"] if kind == "openai" else error
    assert says in message
    assert jar.model.requests == []


async def test_oversized_bodies_are_413_whether_announced_or_chunked(tmp_path: Path) -> None:
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 4000}]}

    async def chunked() -> Any:
        yield b'{"model": "adder", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    async with served(tmp_path, max_body=2048) as jar, httpx.AsyncClient() as http:
        announced = await http.post(jar.url + "/chat/completions", json=big)
        streamed = await http.post(jar.url + "/chat/completions", content=chunked(), headers=JSON)
        small = await http.post(jar.url + "/chat/completions", json=CHAT)
    assert announced.status_code == streamed.status_code == 413
    assert announced.json()["error"]["code"] == "request_too_large"
    assert small.json()["choices"][0]["message"]["content"] == ANSWER


async def test_a_token_is_required_when_configured(tmp_path: Path) -> None:
    async with served(tmp_path, token="s3cret", repeat=True) as jar:
        for key in ("wrong", "s3cret-not"):
            async with openai.AsyncOpenAI(base_url=jar.url, api_key=key, max_retries=0) as client:
                with pytest.raises(openai.AuthenticationError):
                    await client.chat.completions.create(**CHAT)
                with pytest.raises(openai.AuthenticationError):
                    await client.models.list()
        async with openai.AsyncOpenAI(base_url=jar.url, api_key="s3cret", max_retries=0) as client:
            done = await client.chat.completions.create(**CHAT)
        assert done.choices[0].message.content == ANSWER
        async with httpx.AsyncClient() as http:
            missing = await http.get(jar.url + "/models")
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            assert (await http.get(jar.root + "/healthz")).status_code == 200  # probes stay open


async def test_ollama_token_with_the_librarys_headers(tmp_path: Path) -> None:
    async with served(tmp_path, kind="ollama", token="s3cret") as jar:
        bare = ollama.AsyncClient(host=jar.url)
        keyed = ollama.AsyncClient(host=jar.url, headers={"Authorization": "Bearer s3cret"})
        try:
            with pytest.raises(ollama.ResponseError) as caught:
                await bare.chat(model="adder", messages=CHAT["messages"])
            assert caught.value.status_code == 401
            done = await keyed.chat(model="adder", messages=CHAT["messages"])
            assert done.message.content == ANSWER
        finally:
            await bare.close()
            await keyed.close()


async def test_over_the_limit_is_429_with_retry_after_and_the_queue_waits(tmp_path: Path) -> None:
    gate = Gate()
    async with served(
        tmp_path, SLOW, repeat=True, sources=[gate.source()], max_concurrency=1, max_queue=1
    ) as jar:
        results: list[str] = []
        async with (
            openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
            anyio.create_task_group() as tg,
        ):

            async def ask() -> None:
                done = await client.chat.completions.create(**CHAT)
                results.append(done.choices[0].message.content or "")

            with anyio.fail_after(10):
                tg.start_soon(ask)
                await gate.started.wait()  # the one slot is taken
                tg.start_soon(ask)
                async with httpx.AsyncClient() as http:
                    while (await http.get(jar.root + "/readyz")).json()["queued"] == 0:
                        await anyio.lowlevel.checkpoint()  # the second waits in the queue
                with pytest.raises(openai.RateLimitError) as caught:
                    await client.chat.completions.create(**CHAT)
                assert caught.value.response.headers["retry-after"] == "1"
                assert caught.value.code == "rate_limit_exceeded"
                gate.opened.set()
        assert results == ["done", "done"]


@pytest.mark.parametrize("stream", [True, False])
async def test_a_client_that_goes_away_cancels_its_loop_and_tool_call(
    tmp_path: Path, stream: bool
) -> None:
    gate = Gate()
    async with served(tmp_path, SLOW, sources=[gate.source()]) as jar, httpx.AsyncClient() as http:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def ask() -> None:
                    body = {**CHAT, "stream": stream}
                    async with http.stream("POST", jar.url + "/chat/completions", json=body):
                        await anyio.sleep_forever()

                tg.start_soon(ask)
                await gate.started.wait()
                tg.cancel_scope.cancel()  # the client hangs up mid-conversation
            await gate.cancelled.wait()  # ... and the tool call sees it
            assert (await http.get(jar.root + "/readyz")).json()["running"] == 0
    assert gate.calls == 1


async def test_request_timeout_is_504_or_an_error_event_mid_stream(tmp_path: Path) -> None:
    gate = Gate()
    async with (
        served(tmp_path, SLOW, repeat=True, sources=[gate.source()], request_timeout=0.5) as jar,
        openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
    ):
        with anyio.fail_after(10):
            with pytest.raises(openai.InternalServerError) as caught:
                await client.chat.completions.create(**CHAT)
            assert caught.value.status_code == 504 and caught.value.code == "timeout"
            stream = await client.chat.completions.create(**CHAT, stream=True)
            with pytest.raises(openai.APIError, match="request_timeout"):
                async for _ in stream:
                    pass
    assert gate.cancelled.is_set()


async def test_a_failing_model_is_502_model_error(tmp_path: Path) -> None:
    async with (
        served(tmp_path, [fail(400, "no such luck")]) as jar,
        openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
    ):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(**CHAT)
    assert caught.value.status_code == 502 and caught.value.code == "model_error"
    assert "no such luck" in caught.value.message


async def test_stopping_lets_requests_in_flight_finish_then_closes(tmp_path: Path) -> None:
    gate = Gate()
    async with served(tmp_path, SLOW, sources=[gate.source()]) as jar:
        port = int(jar.root.rsplit(":", 1)[1])
        async with (
            openai.AsyncOpenAI(base_url=jar.url, api_key="-", max_retries=0) as client,
            anyio.create_task_group() as tg,
        ):
            results: list[str] = []

            async def ask() -> None:
                done = await client.chat.completions.create(**CHAT)
                results.append(done.choices[0].message.content or "")

            with anyio.fail_after(10):
                tg.start_soon(ask)
                await gate.started.wait()
                jar.stop()  # as Ctrl-C does
                gate.opened.set()
                await jar.stopped.wait()
        assert results == ["done"] and not gate.cancelled.is_set()
        with pytest.raises(OSError):  # no longer listening
            socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_stopping_cuts_off_what_outlives_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "STOP_GRACE", 0.2)
    gate = Gate()
    async with served(tmp_path, SLOW, sources=[gate.source()]) as jar:
        async with httpx.AsyncClient() as http, anyio.create_task_group() as tg:
            outcome: list[object] = []

            async def ask() -> None:
                try:
                    outcome.append(
                        (await http.post(jar.url + "/chat/completions", json=CHAT)).status_code
                    )
                except httpx.HTTPError as exc:
                    outcome.append(type(exc))

            with anyio.fail_after(10):
                tg.start_soon(ask)
                await gate.started.wait()
                jar.stop()
                await gate.cancelled.wait()
                await jar.stopped.wait()
        assert outcome and outcome[0] != 200


async def test_a_port_in_use_is_a_transport_error_that_says_so(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        async with served(tmp_path) as jar:
            endpoint = openai_endpoint(HttpSettings(port=port))
            with pytest.raises(TransportError, match=f"cannot listen on 127.0.0.1:{port}"):
                await endpoint.serve(jar.jar)


async def test_health_readiness_and_the_request_log(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    async with (
        served(tmp_path, kind="ollama", log=records.append) as jar,
        httpx.AsyncClient(base_url=jar.url) as http,
    ):
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = (await http.get("/readyz")).json()
        assert ready == {"status": "ready", "model": "adder", "tools": 1, "running": 0, "queued": 0}
        await http.post("/api/chat", json={**CHAT, "stream": False})
        await http.post("/api/chat", json={**CHAT, "model": "other"})
    chat = [r for r in records if r["path"] == "/api/chat"]
    assert chat[0]["status"] == 200 and chat[0]["stop_reason"] == "answer" and chat[0]["steps"] == 2
    assert chat[0]["model"] == "adder" and chat[0]["stream"] is False and chat[0]["seconds"] > 0
    assert chat[1]["status"] == 404 and chat[1]["model"] == "other"


def test_max_messages_in_a_manifest_caps_a_served_endpoint(tmp_path: Path) -> None:
    """``max_messages: 2`` in a manifest: a real ``brainjar run`` refuses 3 messages with 400."""
    model = ScriptedModelServer(ScriptedModel([reply(ANSWER)], repeat=True))
    manifest = tmp_path / "jar.yaml"
    lines: queue.Queue[dict[str, Any]] = queue.Queue()
    with model.run_in_thread():
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: Jar
                metadata: {{name: adder}}
                spec:
                  model: {{backend: openai, endpoint: "{model.openai_base_url}", name: scripted}}
                  endpoints:
                    - openai: {{port: 0, max_messages: 2}}
                    - ollama: {{port: 0, max_messages: 2}}
                  loop: {{transcripts: false}}
                """)
        )
        jar = subprocess.Popen(
            [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        )
        assert jar.stdout is not None
        stdout = jar.stdout
        reader = threading.Thread(
            target=lambda: [lines.put(json.loads(x)) for x in stdout if x.strip()], daemon=True
        )
        reader.start()
        try:
            urls: dict[str, str] = {}
            while len(urls) < 2:
                line = lines.get(timeout=START_LIMIT)
                assert line["type"] == "listening", line
                urls[line["endpoint"]] = line["url"].removesuffix("/v1")
            said = [{"role": "user", "content": "2 + 3?"}]
            with httpx.Client(timeout=START_LIMIT, headers=JSON) as http:
                openai_url = urls["openai"] + "/v1/chat/completions"
                two = http.post(openai_url, json={**CHAT, "messages": said * 2})
                three = http.post(openai_url, json={**CHAT, "messages": said * 3})
                ollama_three = http.post(
                    urls["ollama"] + "/api/chat",
                    json={**CHAT, "messages": said * 3, "stream": False},
                )
        finally:
            jar.kill()
            jar.wait()
            reader.join(START_LIMIT)
            stdout.close()
    assert two.status_code == 200 and two.json()["choices"][0]["message"]["content"] == ANSWER
    assert three.status_code == 400, three.text
    error = three.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "messages",
        "too_many_messages",
    )
    assert "carries 3 messages" in error["message"] and "at most 2" in error["message"]
    assert ollama_three.status_code == 400, ollama_three.text
    assert "at most 2" in ollama_three.json()["error"]
    assert len(model.requests) == 1  # only the request within the cap reached the model
