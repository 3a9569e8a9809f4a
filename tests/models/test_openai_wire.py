"""OpenAIClient against a server that writes its HTTP answer byte by byte as told.

The scripted model server frames its stream the usual way; servers in the wild
split lines across writes, end lines in CRLF, send comments and ``event:``
fields, spread one event's data over lines, drop a kept-alive connection, or
send garbage. Each answer here is written in pieces, with a pause between them
so the client reads them apart, on a real socket on loopback.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteStream, SocketAttribute, SocketStream
from anyio.streams.tls import TLSStream
from client_support import turn
from tls_support import write_self_signed

from brainjar import ModelError
from brainjar.jar._model import _connection_lost
from brainjar.models._openai import OpenAIClient
from brainjar.models._transport import env_proxy

# Seconds between two writes of one answer: enough for the client to read them apart.
PAUSE = 0.02


def _chunk(content: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": content}}]})


def _head(chunked: bool = False) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
    return f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{framing}\r\n\r\n".encode()


async def _read_request(stream: ByteStream) -> tuple[bytes, bytes]:
    """Reads one HTTP request (head and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += await stream.receive()
    return head, body


@asynccontextmanager
async def _server(
    answers: Sequence[Sequence[bytes] | None],
    heads: list[bytes] | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    on_refused: Callable[[BaseException], None] | None = None,
) -> AsyncIterator[str]:
    """A server on loopback answering its Nth connection with ``answers[N]``.

    ``None`` closes the connection once the request is read, without a word.
    The heads of the requests it reads go to ``heads``. With ``tls``, HTTPS; a
    client that gives up during the handshake is told to ``on_refused``.
    """
    served = iter(answers)

    async def handle(tcp: SocketStream) -> None:
        stream: ByteStream = tcp
        if tls is not None:
            try:
                stream = await TLSStream.wrap(tcp, server_side=True, ssl_context=tls)
            except (ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
                if on_refused is not None:
                    on_refused(exc)
                await tcp.aclose()
                return
        async with stream:
            head, _ = await _read_request(stream)
            if heads is not None:
                heads.append(head)
            pieces = next(served)
            for piece in pieces or ():
                await stream.send(piece)
                await anyio.sleep(PAUSE)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, handle)
        yield f"{'http' if tls is None else 'https'}://127.0.0.1:{port}/v1"
        tasks.cancel_scope.cancel()


@asynccontextmanager
async def _client(url: str, *, max_retries: int = 0) -> AsyncIterator[OpenAIClient]:
    """A model client of the server at ``url``, closed after the block."""
    client = OpenAIClient(base_url=url, model="m", max_retries=max_retries)
    try:
        yield client
    finally:
        await client.aclose()


async def test_events_are_framed_as_the_sse_standard_says() -> None:
    split = _chunk("world")
    answer = [
        _head(),
        b": a comment, then an event name and an id\r\nevent: chunk\r\nid: 1\r\n",
        f"data: {_chunk('hello ')}\r\n\r\n".encode(),
        # One event's data over two lines (joined with a newline: still one JSON text),
        # and a line cut in the middle, across two writes.
        b'data: {"choices": [{"index": 0,\ndata:  "delta": {"content": "big "}}]}\n\n',
        f"data: {split[:20]}".encode(),
        f"{split[20:]}\n\n".encode(),
        # A lone CR ends a line too; the finish reason, then [DONE].
        b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\r\r',
        b"data: [DONE]\n\n",
    ]
    async with _server([answer]) as url, _client(url) as client:
        deltas, response = await turn(client)
    assert deltas == ["hello ", "big ", "world"]
    assert response.message.content == "hello big world"
    assert response.finish_reason == "stop"


async def test_events_that_arrive_together_are_one_delta() -> None:
    """A model faster than the jar reads costs one trip through the loop per read."""
    together = "".join(f"data: {_chunk(word)}\n\n" for word in ("one ", "two ", "three "))
    answer = [_head(), together.encode(), f"data: {_chunk('four')}\n\ndata: [DONE]\n\n".encode()]
    async with _server([answer]) as url, _client(url) as client:
        deltas, response = await turn(client)
    assert deltas == ["one two three ", "four"]
    assert response.message.content == "one two three four"


async def test_a_chunked_body_and_an_event_the_body_ends_inside() -> None:
    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    answer = [
        _head(chunked=True),
        chunk(f"data: {_chunk('kept')}\n\n".encode()),
        chunk(f"data: {_chunk(' dropped')}\n".encode()),  # no blank line: not an event
        b"0\r\n\r\n",
    ]
    async with _server([answer]) as url, _client(url) as client:
        deltas, response = await turn(client)
    assert deltas == ["kept"]
    assert response.message.content == "kept"


async def test_an_error_event_and_garbage_are_model_errors_naming_the_server() -> None:
    error = [
        _head(),
        f"data: {_chunk('a')}\n\n".encode(),
        b'data: {"error": {"message": "oom"}}\n\n',
    ]
    garbage = [_head(), b"data: <html>not json</html>\n\n"]
    async with _server([error, garbage]) as url, _client(url) as client:
        # The server's own words; for garbage, what the JSON reader said of it.
        for said in ("oom", "Expecting value"):
            with pytest.raises(ModelError) as caught:
                await turn(client)
            assert f"the model server at {url} failed while answering" in str(caught.value)
            assert said in str(caught.value)


async def test_an_empty_answer_is_a_model_error_not_an_empty_reply() -> None:
    async with _server([[_head(), b": keep-alive\n\n"]]) as url, _client(url) as client:
        with pytest.raises(ModelError, match="ended its answer without a word"):
            await turn(client)


async def test_a_connection_dropped_before_the_answer_is_tried_again() -> None:
    answer = [_head(), f"data: {_chunk('second try')}\n\n".encode()]
    async with _server([None, answer, None]) as url:
        async with _client(url, max_retries=1) as patient:
            deltas, _ = await turn(patient)
        async with _client(url) as impatient:
            with pytest.raises(ModelError) as caught:
                await turn(impatient)
    assert deltas == ["second try"]
    assert f"cannot reach the model server at {url}" in str(caught.value)


async def test_an_event_too_long_to_hold_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("brainjar.models._openai.MOST_EVENT_BYTES", 1000)
    one_line = [_head(), b"data: " + b"x" * 600, b"x" * 600]
    many_lines = [_head(), b"data: x\n" * 100, b"data: x\n" * 100]  # never a blank line
    async with _server([one_line, many_lines]) as url, _client(url) as client:
        for _ in range(2):
            with pytest.raises(ModelError, match="an event of over 1000 bytes"):
                await turn(client)


async def test_a_proxy_named_in_the_environment_carries_the_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heads: list[bytes] = []
    answer = [_head(), f"data: {_chunk('via the proxy')}\n\n".encode()]
    async with _server([answer], heads) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # The proxy listens on loopback; the model it is asked for is elsewhere.
        async with _client("http://model.example:8000/v1") as client:
            deltas, _ = await turn(client)
    assert deltas == ["via the proxy"]
    # A forward proxy is asked for the whole URL (the absolute form of RFC 9112).
    assert heads[0].startswith(b"POST http://model.example:8000/v1/chat/completions HTTP/1.1")


def test_which_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("ALL_PROXY", "http://all.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    assert env_proxy("https://api.example.com/v1") == "http://proxy.example:3128"
    assert env_proxy("http://api.example.com/v1") == "http://all.example:3128"
    assert env_proxy("http://model.internal:8080/v1") is None
    assert env_proxy("http://localhost:8080/v1") is None
    # A model on this machine (a jar's own llama.cpp server) is never proxied.
    monkeypatch.setenv("NO_PROXY", "")
    for local in ("http://127.0.0.1:8080/v1", "http://[::1]:8080/v1", "http://localhost/v1"):
        assert env_proxy(local) is None, local
    assert env_proxy("http://10.0.0.5:8080/v1") == "http://all.example:3128"


async def test_https_trusts_the_certificates_ssl_cert_file_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = write_self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    answer = [_head(), f"data: {_chunk('over TLS')}\n\n".encode()]
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    refused: list[BaseException] = []
    seen = anyio.Event()

    def note(exc: BaseException) -> None:
        refused.append(exc)
        seen.set()

    async with _server([answer], tls=tls, on_refused=note) as url:
        # The variables are read when a client first connects.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        async with _client(url) as trusting:
            deltas, _ = await turn(trusting)
        monkeypatch.delenv("SSL_CERT_FILE")
        # Not retried: a certificate that does not verify will not the next time.
        async with _client(url, max_retries=3) as doubting:
            with pytest.raises(ModelError) as caught:
                await turn(doubting)
        with anyio.fail_after(5):  # the server sees the client's refusal a moment later
            await seen.wait()
    assert deltas == ["over TLS"]
    assert len(refused) == 1, refused  # one try, though three more were allowed
    assert "certificate verify failed" in str(caught.value)
    assert f"the TLS handshake with the model server at {url} failed" in str(caught.value)
    assert "set SSL_CERT_FILE" in str(caught.value)


async def test_a_connection_dropped_before_the_answer_counts_as_lost() -> None:
    """The supervised client asks again after a restart only for a lost connection."""
    async with _server([None]) as url, _client(url) as client:
        with pytest.raises(ModelError) as caught:
            await turn(client)
    assert _connection_lost(caught.value)
