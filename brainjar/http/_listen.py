"""What every HTTP server brainjar runs shares: a listening socket bound here, and
uvicorn that reports readiness and leaves signals to its owner.

Used by the OpenAI/Ollama endpoints, the MCP HTTP server and the scripted model.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Generator

import uvicorn

from brainjar._errors import TransportError
from brainjar._worker import worker_role

__all__ = ["BACKLOG", "QuietUvicorn", "listen", "reserve"]

# Connections the kernel holds for us before uvicorn accepts them.
BACKLOG = 2048


def listen(host: str, port: int, *, what: str) -> socket.socket:
    """A non-blocking listening TCP socket; port 0 picks a free one.

    Binding here, before uvicorn starts, makes the port known at once and a bad
    address a clear error. A worker of ``run --workers`` shares the port with the
    other workers (``SO_REUSEPORT``: the kernel spreads connections over them).

    Raises:
        TransportError: naming ``what`` and the address, with what to do instead.
    """
    return _bound(host, port, what=what, shared=worker_role() is not None, listening=True)


def reserve(host: str, port: int, *, what: str) -> socket.socket:
    """Binds ``host:port`` (0: a free port) with ``SO_REUSEPORT``, without listening.

    Held by the parent of ``run --workers``, it keeps the port for the workers that
    listen on it; it takes no connections itself.

    Raises:
        TransportError: as ``listen`` does.
    """
    return _bound(host, port, what=what, shared=True, listening=False)


def _bound(host: str, port: int, *, what: str, shared: bool, listening: bool) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise TransportError(
            f"{what}: cannot listen on {host}:{port}: {exc}; use an IP address"
        ) from None
    family, kind, proto, _, address = infos[0]
    # The protocol must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such
    # sockets, and without it each response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listening:
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise TransportError(
            f"{what}: cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another port, or port 0 for a free one"
        ) from None
    return sock


class QuietUvicorn(uvicorn.Server):
    """uvicorn that says when it listens and leaves signals to whoever runs it.

    Ctrl-C belongs to the program (the CLI, a test runner): it cancels the task
    that serves, which stops uvicorn gracefully.
    """

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield
