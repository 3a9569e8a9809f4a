"""Helpers for the mesh tests: a tool service process and waiting on conditions."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from brainjar.registry import DiscoverSource, Service
from process_support import ended

# How long a condition may take to hold: a serve-tools process that starts Python, grpc,
# LangChain and zeroconf and probes its mDNS name can take 20 s on a loaded 2-core machine.
WAIT = 60.0
POLL = 0.05

TOOLS_MODULE = '''
import time

from langchain_core.tools import tool


@tool
def echo(text: str) -> str:
    """Says the text back."""
    return text


@tool
def slow(seconds: float) -> str:
    """Takes its time."""
    time.sleep(seconds)
    return "done"
'''


def rows_of(source: DiscoverSource, *names: str) -> list[Service]:
    """``source``'s rows of the services announced under ``names``.

    Other tests' services share loopback (the suite runs in parallel), and a
    stale announcement of one may point at a port another test's server has
    since taken; a test about its own services looks only at their rows.
    """
    return [row for row in source.registry.services() if row.sighting.instance in names]


async def eventually(predicate: Callable[[], bool], *, limit: float = WAIT) -> None:
    """Waits, within ``limit``, until ``predicate`` holds."""
    with anyio.fail_after(limit):
        while True:
            if predicate():
                return
            await anyio.sleep(POLL)


def write_service(folder: Path, name: str, *, labels: dict[str, str], extra: str = "") -> Path:
    """A ToolService manifest (and its tools module) in ``folder``."""
    (folder / "mesh_tools.py").write_text(TOOLS_MODULE)
    label_text = ", ".join(f"{k}: {v}" for k, v in labels.items())
    manifest = folder / f"{name}.yaml"
    body = f"""\
        apiVersion: brainjar.dev/v1
        kind: ToolService
        metadata: {{name: {name}, labels: {{{label_text}}}}}
        spec:
          tools:
            - langchain: mesh_tools:echo
            - langchain: mesh_tools:slow
          stop_grace: 2s
          announce: {{interfaces: [127.0.0.1]}}
        """
    manifest.write_text(textwrap.dedent(body) + textwrap.indent(extra, "  "))
    return manifest


class ServiceProcess:
    """A running ``brainjar serve-tools``, and the events it printed."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        # When each kind of event first arrived (``time.perf_counter``), for the bench.
        self.arrived: dict[str, float] = {}

    def event(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e["type"] == kind), None)

    @property
    def grpc_port(self) -> int:
        listening = [e for e in self.events if e.get("transport") == "grpc"]
        return int(listening[0]["url"].rsplit(":", 1)[1])

    async def read(self) -> None:
        assert self.process.stdout is not None
        buffer = ""
        async for chunk in TextReceiveStream(self.process.stdout):
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                if line.startswith("{"):
                    event = json.loads(line)
                    self.events.append(event)
                    kind = f"{event['type']}:{event.get('transport', '')}".rstrip(":")
                    self.arrived.setdefault(kind, time.perf_counter())

    def signal(self, number: int) -> None:
        self.process.send_signal(number)


@asynccontextmanager
async def tool_service(
    manifest: Path, *, env: dict[str, str] | None = None
) -> AsyncIterator[ServiceProcess]:
    """Runs ``python -m brainjar serve-tools manifest --json`` until it is ready."""
    command = [sys.executable, "-m", "brainjar", "serve-tools", str(manifest), "--json"]
    process = await anyio.open_process(command, env={**os.environ, **(env or {})}, stderr=None)
    service = ServiceProcess(process)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(service.read)
            await eventually(
                lambda: service.event("ready") is not None or process.returncode is not None
            )
            assert service.event("ready"), f"serve-tools did not start: {service.events}"
            yield service
            tg.cancel_scope.cancel()
    finally:
        await ended(process)
