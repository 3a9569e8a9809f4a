"""What a web page, a rebound host name or a hostile body can do to a jar's endpoints.

Real servers on loopback: the OpenAI and Ollama endpoints, and the MCP HTTP
server, all behind ``brainjar.http.Guard``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from brainjar.adapters.mcp import serve_tools_http
from endpoint_helpers import ANSWER, served

from brainjar.runtime._transcript import Transcript
from brainjar.tools import StaticSource

CHAT = {"model": "adder", "messages": [{"role": "user", "content": "2 + 3?"}]}
CHAT_PATH = {"openai": "/v1/chat/completions", "ollama": "/api/chat"}
LIMIT = 30.0


def _message(kind: str, response: httpx.Response) -> str:
    """The error message in the API's own layout (which this also checks)."""
    error = response.json()["error"]
    if kind == "openai":
        assert set(error) == {"message", "type", "param", "code"}
        return str(error["message"])
    assert isinstance(error, str)
    return error


def _body(kind: str, **extra: Any) -> dict[str, Any]:
    return {**CHAT, **extra} if kind == "openai" else {**CHAT, "stream": False, **extra}


def _answer(kind: str, response: httpx.Response) -> str:
    body = response.json()
    if kind == "openai":
        return str(body["choices"][0]["message"]["content"])
    return str(body["message"]["content"])


@asynccontextmanager
async def mcp_served(**options: Any) -> AsyncIterator[str]:
    """The MCP HTTP server with no tools; yields its URL."""
    async with anyio.create_task_group() as tg:
        url = await tg.start(partial(serve_tools_http, StaticSource([], name="none"), **options))
        try:
            yield url
        finally:
            tg.cancel_scope.cancel()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_a_web_page_from_another_origin_is_refused(tmp_path: Path, kind: str) -> None:
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        url = jar.root + CHAT_PATH[kind]
        refused = await http.post(url, json=_body(kind), headers={"origin": "https://evil.example"})
        local = await http.post(url, json=_body(kind), headers={"origin": "http://localhost:3000"})
    assert refused.status_code == 403 and "allowed_origins" in _message(kind, refused)
    assert local.status_code == 200 and _answer(kind, local) == ANSWER
    assert len(jar.model.requests) == 2  # only the local page's conversation reached the model


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_a_rebound_host_name_is_refused(tmp_path: Path, kind: str) -> None:
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        url = jar.root + CHAT_PATH[kind]
        port = url.split(":")[2].split("/")[0]
        refused = await http.post(url, json=_body(kind), headers={"host": f"evil.example:{port}"})
        named = await http.post(url, json=_body(kind), headers={"host": f"localhost:{port}"})
    assert refused.status_code == 403 and "Host header" in _message(kind, refused)
    assert named.status_code == 200


async def test_allowed_origins_let_a_named_page_in(tmp_path: Path) -> None:
    async with (
        served(tmp_path, allowed_origins=["https://chat.example.com"]) as jar,
        httpx.AsyncClient() as http,
    ):
        url = jar.url + "/chat/completions"
        allowed = await http.post(url, json=CHAT, headers={"origin": "https://chat.example.com"})
        other = await http.post(url, json=CHAT, headers={"origin": "https://evil.example"})
    assert allowed.status_code == 200 and other.status_code == 403


@pytest.mark.parametrize("kind", ["openai", "ollama"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_only_json_bodies_are_read(
    tmp_path: Path, kind: str, content_type: str | None
) -> None:
    """A form or text/plain POST is what a page can send cross-site without a preflight."""
    headers = {} if content_type is None else {"content-type": content_type}
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        response = await http.post(
            jar.root + CHAT_PATH[kind], content=json.dumps(_body(kind)), headers=headers
        )
    assert response.status_code == 415 and "application/json" in _message(kind, response)
    assert jar.model.requests == []


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_deeply_nested_json_is_a_400_in_the_apis_layout(tmp_path: Path, kind: str) -> None:
    depth = 100_000
    body = b'{"model": "adder", "messages": ' + b"[" * depth + b"]" * depth + b"}"
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        response = await http.post(
            jar.root + CHAT_PATH[kind], content=body, headers={"content-type": "application/json"}
        )
        assert (await http.get(jar.root + "/healthz")).status_code == 200
    assert response.status_code == 400 and "nested too deeply" in _message(kind, response)


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_a_lone_surrogate_in_content_does_not_fail_the_conversation(
    tmp_path: Path, kind: str
) -> None:
    body = json.dumps(_body(kind, messages=[{"role": "user", "content": "half \ud800 a pair"}]))
    folder = tmp_path / "transcripts"
    async with (
        served(tmp_path, kind=kind, transcripts=folder) as jar,
        httpx.AsyncClient() as http,
    ):
        response = await http.post(
            jar.root + CHAT_PATH[kind], content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 200 and _answer(kind, response) == ANSWER
    written = "".join(p.read_text() for p in folder.glob("*.jsonl"))
    assert "half \\ufffd a pair" in written  # UTF-8 cannot carry it: U+FFFD stands in


def test_a_transcript_never_fails_on_text_utf8_cannot_hold(tmp_path: Path) -> None:
    """Text from anywhere (a tool, a client) may hold a lone surrogate; the line is kept."""
    transcript = Transcript(tmp_path)
    transcript.write({"role": "tool", "content": "half \ud800 a pair"})
    transcript.close()
    assert json.loads(transcript.path.read_text())["content"] == "half \ud800 a pair"


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_too_many_messages_is_400(tmp_path: Path, kind: str) -> None:
    many = [{"role": "user", "content": "x"}] * 1025
    async with served(tmp_path, kind=kind) as jar, httpx.AsyncClient() as http:
        default = await http.post(jar.root + CHAT_PATH[kind], json=_body(kind, messages=many))
    assert default.status_code == 400 and "at most 1024" in _message(kind, default)
    async with served(tmp_path, kind=kind, max_messages=2) as jar, httpx.AsyncClient() as http:
        three = await http.post(jar.root + CHAT_PATH[kind], json=_body(kind, messages=many[:3]))
        one = await http.post(jar.root + CHAT_PATH[kind], json=_body(kind))
    assert three.status_code == 400 and "at most 2" in _message(kind, three)
    assert one.status_code == 200
    assert len(jar.model.requests) == 2  # one conversation, a tool call and an answer


async def test_mcp_over_http_refuses_other_origins_and_hosts() -> None:
    async with mcp_served() as url, httpx.AsyncClient() as http:
        port = url.split(":")[2].split("/")[0]
        origin = await http.post(url, json={}, headers={"origin": "https://evil.example"})
        host = await http.post(url, json={}, headers={"host": f"evil.example:{port}"})
        local = await http.post(url, json={}, headers={"origin": f"http://127.0.0.1:{port}"})
    assert origin.status_code == host.status_code == 403
    assert origin.headers["content-type"].startswith("text/plain")
    assert local.status_code not in (401, 403)


async def _statuses(http: httpx.AsyncClient, url: str, *, body: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, given in [
        ("missing", None),
        ("wrong", "Bearer wrong"),
        ("lowercase", "bearer s3cret"),
        ("upper", "BEARER s3cret"),
    ]:
        headers = {} if given is None else {"authorization": given}
        response = await http.post(url, json=body, headers=headers)
        out[name] = (response.status_code, response.headers.get("www-authenticate"))
    return out


async def test_the_token_is_checked_the_same_way_by_all_three(tmp_path: Path) -> None:
    """OpenAI, Ollama and MCP over HTTP: same scheme rules, same 401 and challenge."""
    seen: dict[str, dict[str, Any]] = {}
    with anyio.fail_after(LIMIT):
        for kind in ("openai", "ollama"):
            async with (
                served(tmp_path, kind=kind, token="s3cret", repeat=True) as jar,
                httpx.AsyncClient() as http,
            ):
                seen[kind] = await _statuses(http, jar.root + CHAT_PATH[kind], body=_body(kind))
        async with mcp_served(token="s3cret") as url, httpx.AsyncClient() as http:
            seen["mcp"] = await _statuses(http, url, body={})
    for kind, statuses in seen.items():
        assert statuses["missing"] == statuses["wrong"] == (401, "Bearer"), kind
        assert statuses["lowercase"][0] not in (401, 403), kind
        assert statuses["upper"][0] not in (401, 403), kind
