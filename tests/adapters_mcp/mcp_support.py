"""Helpers for the MCP tests: real servers (PyPI, npm, our own toy) and free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from brainjar.adapters.mcp import McpSource

from brainjar.tools import Tool

HERE = Path(__file__).parent
TOY_SERVER = HERE / "mcp_toy_server.py"
NODE_BIN = HERE.parent / "node_modules" / ".bin"
# How long a test waits for a server process to stop after SIGTERM.
STOP_WAIT = 10.0
# How long a test waits for a server process to listen, and how often it looks.
LISTEN_LIMIT = 30.0
LISTEN_POLL = 0.05


def node_bin(name: str) -> str:
    """The path of an npm test dependency's binary; skips the test when it is missing."""
    path = NODE_BIN / name
    if not path.exists():
        pytest.skip(f"{path} is missing: run `npm ci --prefix tests` first")
    return str(path)


def pypi_bin(name: str) -> str:
    """A console script of a PyPI test dependency; skips the test when it is missing."""
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        pytest.skip(f"{name} is missing: pip install -e '.[dev]'")
    return found


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_toy(*args: str) -> subprocess.Popen[bytes]:
    """The toy server as a process of its own (output to this test's stderr)."""
    return subprocess.Popen(
        [sys.executable, str(TOY_SERVER), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def tool_named(source: McpSource, name: str) -> Tool:
    """The tool of that name the source offers now."""
    found = {t.name: t for t in source.tools()}
    assert name in found, f"{name} not in {sorted(found)}"
    return found[name]


async def wait_listening(port: int, *, limit: float = LISTEN_LIMIT) -> None:
    """Waits until something accepts connections on 127.0.0.1:``port``.

    Polls: the server is another process, with nothing to wait on but its port.
    """
    with anyio.fail_after(limit):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(LISTEN_POLL)
                continue
            await stream.aclose()
            return
