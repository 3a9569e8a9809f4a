"""``Guard``: Host and Origin allow-lists and the bearer token, in front of any ASGI app."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from brainjar.http import Guard, Refusal


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _get(guard: Guard, path: str = "/", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        return await http.get(path, headers=headers)


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:1", "LOCALHOST", "[::1]:8080", "127.0.0.2", "[::1]"]
)
async def test_a_loopback_server_answers_to_loopback_hosts_on_any_port(host: str) -> None:
    assert (await _get(Guard(_ok, bound_host="127.0.0.1"), host=host)).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil:80", ""]
)
async def test_a_loopback_server_refuses_other_hosts(host: str) -> None:
    """DNS rebinding: the page's own name resolves to 127.0.0.1; its Host header says so."""
    response = await _get(Guard(_ok, bound_host="127.0.0.1"), host=host)
    assert response.status_code == 403 and "Host header" in response.text


async def test_a_server_on_all_addresses_takes_any_host() -> None:
    assert (await _get(Guard(_ok, bound_host="0.0.0.0"), host="jar.lan:80")).status_code == 200


async def test_named_hosts_can_be_allowed() -> None:
    guard = Guard(_ok, bound_host="127.0.0.1", allowed_hosts=["jar.internal"])
    assert (await _get(guard, host="jar.internal:8080")).status_code == 200
    assert (await _get(guard, host="other.internal")).status_code == 403


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "http://127.0.0.1:8080", "https://[::1]", "http://LOCALHOST"],
)
async def test_loopback_origins_are_allowed(origin: str) -> None:
    assert (await _get(Guard(_ok, bound_host="127.0.0.1"), origin=origin)).status_code == 200


@pytest.mark.parametrize("bound", ["127.0.0.1", "0.0.0.0"])
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://localhost.evil.example", "file://", "x:y:z"]
)
async def test_other_origins_are_refused_wherever_the_server_listens(
    bound: str, origin: str
) -> None:
    """A page in the user's browser must not drive a jar it was not meant to reach."""
    response = await _get(Guard(_ok, bound_host=bound), origin=origin)
    assert response.status_code == 403 and "allowed_origins" in response.text


async def test_allowed_origins_exact_by_port_and_any() -> None:
    guard = Guard(
        _ok,
        bound_host="127.0.0.1",
        allowed_origins=["https://chat.example.com", "http://ui.lan:*"],
    )
    assert (await _get(guard, origin="https://chat.example.com")).status_code == 200
    assert (await _get(guard, origin="https://CHAT.example.com/")).status_code == 200
    assert (await _get(guard, origin="http://ui.lan:3000")).status_code == 200
    assert (await _get(guard, origin="https://chat.example.com:444")).status_code == 403
    assert (await _get(guard, origin="http://ui.lan.evil:3000")).status_code == 403
    anyone = Guard(_ok, bound_host="127.0.0.1", allowed_origins=["*"])
    assert (await _get(anyone, origin="https://evil.example")).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_the_token_scheme_is_case_insensitive(scheme: str) -> None:
    guard = Guard(_ok, bound_host="127.0.0.1", token="s3cret")
    assert (await _get(guard, authorization=f"{scheme} s3cret")).status_code == 200


@pytest.mark.parametrize(
    "given", [None, "Bearer wrong", "Bearer s3cret-not", "Basic s3cret", "s3cret"]
)
async def test_a_missing_or_wrong_token_is_401_with_www_authenticate(given: str | None) -> None:
    guard = Guard(_ok, bound_host="127.0.0.1", token="s3cret", open_paths={"/healthz"})
    headers = {} if given is None else {"authorization": given}
    refused = await _get(guard, "/v1/models", **headers)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert ("missing" if given is None else "wrong") in refused.text
    assert (await _get(guard, "/healthz", **headers)).status_code == 200  # probes stay open


async def test_a_refusal_is_rendered_by_the_servers_callback() -> None:
    def render(refusal: Refusal) -> tuple[str, bytes]:
        body: dict[str, Any] = {"error": {"message": refusal.message, "code": refusal.code}}
        return "application/json", json.dumps(body).encode()

    guard = Guard(_ok, bound_host="127.0.0.1", token="t", render=render)
    refused = await _get(guard, origin="https://evil.example")
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"]["code"] == "forbidden_origin"
    assert (await _get(guard)).json()["error"]["code"] == "invalid_api_key"
