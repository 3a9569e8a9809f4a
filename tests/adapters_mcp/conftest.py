"""Fixtures of the MCP tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from mcp_support import STOP_WAIT


@pytest.fixture
def toy_http() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Starts toy servers (``toy_http.append(Popen)``) and stops them all at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
