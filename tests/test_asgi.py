"""The listening socket every brainjar HTTP server uses."""

from __future__ import annotations

import socket

import pytest

from brainjar import TransportError
from brainjar.http._listen import listen


def test_the_socket_is_tcp_so_asyncio_turns_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets; without it, ~40 ms per reply."""
    with listen("127.0.0.1", 0, what="test") as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] != 0


def test_a_taken_port_is_a_clear_error() -> None:
    with listen("127.0.0.1", 0, what="first") as taken:
        port = taken.getsockname()[1]
        with pytest.raises(
            TransportError, match=rf"second: cannot listen on 127.0.0.1:{port}: .*port 0"
        ):
            listen("127.0.0.1", port, what="second").close()
