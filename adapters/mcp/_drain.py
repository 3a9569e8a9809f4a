"""Stopping an MCP server over HTTP gently: requests in flight finish within a grace period.

Each POST (one JSON-RPC message) is counted while it runs; GET streams are not,
as they last as long as a session. Draining, a new ``tools/call`` or
``initialize`` gets 503 with a JSON-RPC error; other messages (a client listing
the tools to read the result of its call, notifications) are still served. A
request still running when the grace runs out is cut off: its caller gets a
JSON-RPC error for its request id (an SSE event when the response stream had
started), not a dropped connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brainjar.tools import InFlight

__all__ = ["Drain"]

# JSON-RPC's "server error" range: the request was not (or not fully) served.
_STOPPING = -32000
# What a draining server no longer starts.
_REFUSED_WHEN_DRAINING = frozenset({"tools/call", "initialize"})


@dataclass
class _Call:
    body: bytes = b""
    started: bool = False
    stream: bool = False
    done: bool = False

    def field(self, name: str) -> Any:
        """A field of the JSON-RPC message, or None."""
        try:
            message = json.loads(self.body)
        except ValueError:
            return None
        return message.get(name) if isinstance(message, dict) else None


class Drain:
    """ASGI middleware: counts the POSTs in flight, refuses new ones when draining.

    Args:
        app: the MCP app.
        name: the server's name, for messages.
    """

    def __init__(self, app: ASGIApp, *, name: str) -> None:
        self.app = app
        self.name = name
        self.draining = False
        self._requests = InFlight()

    @property
    def running(self) -> int:
        """How many requests run now."""
        return self._requests.running

    async def wait_idle(self) -> None:
        """Returns once no request runs."""
        await self._requests.wait_idle()

    def cut_off(self) -> None:
        """Ends the requests still running, each with a JSON-RPC error to its caller."""
        self._requests.cut_off()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        call = _Call()
        read = await _read_body(receive, call)
        if self.draining and call.field("method") in _REFUSED_WHEN_DRAINING:
            message = f"{self.name} is stopping and takes no new calls; retry when it is back"
            await _answer(send, call, call.field("id"), message, status=503)
            return
        replayed = False

        async def reading() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": call.body, "more_body": False}
            return await receive() if read else {"type": "http.disconnect"}

        async def writing(message: Message) -> None:
            if message["type"] == "http.response.start":
                call.started = True
                headers = dict(message.get("headers") or [])
                call.stream = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                call.done = True
            await send(message)

        with self._requests.track() as held:
            await self.app(scope, reading, writing)
        if held.cancelled_caught and not call.done:
            message = (
                f"{self.name} stopped before this request finished: it outlived the "
                "server's grace period for stopping; send it again once the server is back"
            )
            await _answer(send, call, call.field("id"), message, status=503)


async def _read_body(receive: Receive, call: _Call) -> bool:
    """Reads the request's body into ``call``; False if the client went away first."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        call.body += message.get("body", b"")
        if not message.get("more_body"):
            return True


async def _answer(send: Send, call: _Call, request_id: Any, text: str, *, status: int) -> None:
    """A JSON-RPC error: the rest of a started SSE stream, or a whole JSON response."""
    error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": _STOPPING, "message": text}}
    data = json.dumps(error).encode()
    if call.started:
        if call.stream and request_id is not None:
            data = b"event: message\ndata: " + data + b"\n\n"
            await send({"type": "http.response.body", "body": data})
        else:  # a JSON body cannot be resumed: end it
            await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
