"""``serve_asgi``: one uvicorn runner with head/idle timeouts, a connection cap, one stop."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from starlette.types import Receive, Scope, Send

from brainjar import TransportError
from brainjar.http import MAX_HEAD, serve_asgi

# How long a test waits for the server to act; generous, never asserted as a duration.
LIMIT = 20.0
# The head timeout the tests give the server, so a dribbler is cut off soon.
SHORT_HEAD = 0.5
# How often the dribbler sends its next byte.
DRIBBLE_EVERY = 0.05


class Slow:
    """An ASGI app whose ``/slow`` answers only once the test opens it."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.opened = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        if scope["path"] == "/slow":
            self.started.set()
            await self.opened.wait()
        body = b"done"
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"4")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def running(app: Any, **options: Any) -> AsyncIterator[tuple[str, anyio.CancelScope]]:
    """Serves ``app`` on a free loopback port; yields its URL and the scope that stops it."""
    async with anyio.create_task_group() as tg:
        scope = anyio.CancelScope()

        async def run(*, task_status: anyio.abc.TaskStatus[str]) -> None:
            with scope:
                await serve_asgi(
                    app, host="127.0.0.1", port=0, what="the test server", task_status=task_status,
                    **options,
                )  # fmt: skip

        url = await tg.start(run)
        try:
            yield url, scope
        finally:
            scope.cancel()


async def _connect(url: str) -> SocketStream:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return await anyio.connect_tcp(parts.hostname, parts.port)


async def _closed_by_server(stream: SocketStream) -> bool:
    """Reads until the server closes; True when it did (EOF or reset)."""
    try:
        while await stream.receive():
            pass
    except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
        return True
    return True


async def _read_all(stream: SocketStream) -> bytes:
    """What the server sends until it closes the connection."""
    answer = b""
    with suppress(anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
        while chunk := await stream.receive():
            answer += chunk
    return answer


async def _dribble(stream: SocketStream, head: bytes) -> None:
    """Sends ``head`` then a header value one byte at a time, forever."""
    await stream.send(head + b"X-Slow: ")
    while True:
        await stream.send(b"a")
        await anyio.sleep(DRIBBLE_EVERY)  # the dribbler's pace, not a wait for readiness


async def _dribbled_until_closed(stream: SocketStream, head: bytes) -> bool:
    closed = False
    async with anyio.create_task_group() as tg:

        async def dribble() -> None:
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
                await _dribble(stream, head)

        tg.start_soon(dribble)
        closed = await _closed_by_server(stream)
        tg.cancel_scope.cancel()
    return closed


async def test_a_client_dribbling_its_headers_is_disconnected() -> None:
    async with running(Slow(), head_timeout=SHORT_HEAD) as (url, _):
        with anyio.fail_after(LIMIT):
            stream = await _connect(url)
            async with stream:
                assert await _dribbled_until_closed(stream, b"GET / HTTP/1.1\r\nHost: x\r\n")


async def test_a_dribbler_on_a_kept_alive_connection_is_disconnected_too() -> None:
    """uvicorn stops its keep-alive timer at a request's first byte; the head timer goes on."""
    async with running(Slow(), head_timeout=SHORT_HEAD) as (url, _):
        with anyio.fail_after(LIMIT):
            stream = await _connect(url)
            async with stream:
                await stream.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = b""
                while not answer.endswith(b"done"):
                    answer += await stream.receive()
                assert answer.startswith(b"HTTP/1.1 200")
                assert await _dribbled_until_closed(stream, b"GET / HTTP/1.1\r\nHost: x\r\n")


async def test_a_connection_that_never_sends_a_request_is_closed() -> None:
    async with running(Slow(), head_timeout=SHORT_HEAD) as (url, _):
        with anyio.fail_after(LIMIT):
            stream = await _connect(url)
            async with stream:
                assert await _closed_by_server(stream)


async def test_a_head_over_the_size_cap_is_refused_with_431() -> None:
    """llhttp keeps reading headers for as long as they come; the server stops it."""
    async with running(Slow()) as (url, _):
        with anyio.fail_after(LIMIT):
            stream = await _connect(url)
            async with stream:
                with suppress(anyio.BrokenResourceError, ConnectionError):
                    await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
                    for _ in range(MAX_HEAD // 1000 + 2):
                        await stream.send(b"X-Pad: " + b"a" * 1000 + b"\r\n")
                answer = await _read_all(stream)
            assert answer.startswith(b"HTTP/1.1 431")
            async with httpx.AsyncClient() as http:  # the server still answers others
                assert (await http.get(url + "/")).text == "done"


async def test_connections_over_the_cap_are_refused_with_503() -> None:
    async with running(Slow(), max_connections=2) as (url, _):
        with anyio.fail_after(LIMIT):
            first, second = await _connect(url), await _connect(url)
            async with first, second:
                third = await _connect(url)
                async with third:
                    answer = await _read_all(third)
                assert answer.startswith(b"HTTP/1.1 503")


async def test_stopping_lets_a_request_in_flight_finish_then_stops_listening() -> None:
    app = Slow()
    async with httpx.AsyncClient() as http:
        async with running(app) as (url, scope):
            port = urlsplit(url).port
            answers: list[httpx.Response] = []
            with anyio.fail_after(LIMIT):
                async with anyio.create_task_group() as tg:

                    async def ask() -> None:
                        answers.append(await http.get(url + "/slow"))

                    tg.start_soon(ask)
                    await app.started.wait()
                    scope.cancel()  # as Ctrl-C does: the server starts to stop
                    app.opened.set()
        assert answers[0].status_code == 200 and answers[0].text == "done"
    assert port is not None
    with pytest.raises(OSError):  # no longer listening
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_what_outlives_the_grace_is_cut_off() -> None:
    app = Slow()
    async with httpx.AsyncClient() as http:
        outcome: list[object] = []
        with anyio.fail_after(LIMIT):
            async with running(app, grace=0.2) as (url, scope), anyio.create_task_group() as tg:

                async def ask() -> None:
                    try:
                        outcome.append((await http.get(url + "/slow")).status_code)
                    except httpx.HTTPError as exc:
                        outcome.append(type(exc))

                tg.start_soon(ask)
                await app.started.wait()
                scope.cancel()  # never opened: the request outlives the grace
    assert outcome and outcome[0] != 200


async def test_a_taken_port_is_a_transport_error_not_a_group() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(TransportError, match=f"the test server: cannot listen on .*{port}"):
            await serve_asgi(Slow(), host="127.0.0.1", port=port, what="the test server")


async def test_the_url_reported_is_where_it_listens() -> None:
    async with anyio.create_task_group() as tg:
        url = await tg.start(
            partial(serve_asgi, Slow(), host="127.0.0.1", port=0, what="x", url_path="/v1")
        )
        async with httpx.AsyncClient() as http:
            assert (await http.get(url.removesuffix("/v1") + "/")).text == "done"
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        tg.cancel_scope.cancel()
