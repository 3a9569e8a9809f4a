"""Helpers for the MCP tests: real servers (PyPI, npm, our own toy) and free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TOY_SERVER = HERE / "mcp_toy_server.py"
NODE_BIN = HERE.parent / "node_modules" / ".bin"
# How long a test waits for a server process to stop after SIGTERM.
STOP_WAIT = 10.0


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
