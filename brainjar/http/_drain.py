"""Serve, then drain: the one stop sequence of servers whose requests may run long.

uvicorn stops listening the moment it is told to stop, so a server whose
requests may take a while (a conversation, a tool call) drains before uvicorn
hears of it: once cancelled, the server refuses new requests, waits for those in
flight (the caller's ``drain``), and only then stops uvicorn, which has
``close_grace`` to send what is left. Used by the OpenAI/Ollama endpoints and the
MCP HTTP server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

import anyio
from anyio.abc import TaskStatus
from starlette.types import ASGIApp

from ._server import serve_asgi

__all__ = ["CLOSE_GRACE", "serve_and_drain"]

# Once drained (or out of grace), how long uvicorn has to send what is left and close.
CLOSE_GRACE = 1.0


async def serve_and_drain(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    what: str,
    begin_drain: Callable[[], None],
    drain: Callable[[], Awaitable[None]],
    url_path: str = "",
    around: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    close_grace: float = CLOSE_GRACE,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves ``app`` until cancelled, then drains it before uvicorn stops.

    Args:
        app: the ASGI app.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        what: the server's name in errors ("the openai endpoint").
        begin_drain: called once when the server is cancelled; from then on the
            app refuses new requests.
        drain: awaited (shielded) after ``begin_drain`` while uvicorn still
            serves: waits for the requests in flight within the caller's grace and
            ends those that outlive it.
        url_path: appended to the URL reported.
        around: a context that must be open while uvicorn serves (e.g. the MCP
            SDK's session manager); entered and left in the serving task.
        close_grace: seconds uvicorn has to close once drained.
        task_status: receives ``http://host:port<url_path>`` once it listens.

    Raises:
        TransportError: the address cannot be bound, or uvicorn did not start
            (raised as itself, not inside an exception group).
    """
    held = anyio.CancelScope(shield=True)  # uvicorn runs on until the drain is done
    listening = _Listening()
    failures: list[Exception] = []

    async def run() -> None:
        with held:
            try:
                async with around() if around is not None else nullcontext():
                    await serve_asgi(
                        app,
                        host=host,
                        port=port,
                        what=what,
                        url_path=url_path,
                        grace=close_grace,
                        task_status=listening,
                    )
            except Exception as exc:  # raised below as itself, not in a group
                failures.append(exc)
            finally:
                listening.settled.set()
                listening.ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            await listening.settled.wait()
            if listening.url is not None:
                task_status.started(listening.url)
            await listening.ended.wait()
        finally:
            with anyio.CancelScope(shield=True):
                begin_drain()
                if listening.url is not None and not failures:
                    await drain()
                held.cancel()
    if failures:
        raise failures[0]


class _Listening(TaskStatus[str]):
    """Where ``serve_asgi`` reports its URL; ``settled`` once it did or gave up."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.settled = anyio.Event()
        self.ended = anyio.Event()

    def started(self, value: str | None = None) -> None:
        self.url = value
        self.settled.set()
