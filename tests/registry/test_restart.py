"""A tool service that crashes and comes back is found again, wherever it listens now.

Real ``serve-tools`` processes and mDNS on 127.0.0.1; the jar side is a discover
source with a fast health check.
"""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from brainjar.registry import DiscoverSettings, DiscoverSource
from mesh_support import eventually, rows_of, tool_service, write_service

LOOPBACK = ["127.0.0.1"]
# Failed health checks that never run out within a test.
PATIENT = 1_000_000


def _uid() -> str:
    return "r" + uuid.uuid4().hex[:8]


def _echo_at(source: DiscoverSource, port: int) -> bool:
    return any(t.name == "echo" and t.source.endswith(f":{port}") for t in source.tools())


async def _echo(source: DiscoverSource, text: str) -> object:
    echo = next(t for t in source.tools() if t.name == "echo")
    return (await echo.call({"text": text})).content


async def test_restarted_on_the_same_port_after_a_crash_is_found_again(tmp_path: Path) -> None:
    uid = _uid()
    name, labels = f"same-{uid}", {"mesh": uid}
    config = DiscoverSettings(selector=labels, interfaces=LOOPBACK)
    async with DiscoverSource(config, health_interval=0.3, health_failures=2) as source:
        async with tool_service(write_service(tmp_path, name, labels=labels)) as first:
            port = first.grpc_port
            await eventually(lambda: _echo_at(source, port))
            first.signal(signal.SIGKILL)  # a crash: no goodbye
            await eventually(lambda: not rows_of(source, name))  # the health check
        again = write_service(tmp_path, name, labels=labels, extra=f"grpc: {{port: {port}}}\n")
        async with tool_service(again) as second:
            assert second.grpc_port == port
            await eventually(lambda: _echo_at(source, port))
            assert await _echo(source, "back again") == "back again"


async def test_restarted_on_a_new_port_before_the_health_check_is_found_again(
    tmp_path: Path,
) -> None:
    uid = _uid()
    name, labels = f"moved-{uid}", {"mesh": uid}
    config = DiscoverSettings(selector=labels, interfaces=LOOPBACK)
    async with DiscoverSource(config, health_interval=0.3, health_failures=2) as source:
        manifest = write_service(tmp_path, name, labels=labels)
        async with tool_service(manifest) as first:
            old = first.grpc_port
            await eventually(lambda: _echo_at(source, old))
            # The crashed service's row stays until its restart has been seen ...
            source.registry.health_failures = PATIENT
            first.signal(signal.SIGKILL)
        async with tool_service(manifest) as second:
            new = second.grpc_port
            assert new != old
            await eventually(
                lambda: any(r.sighting.port == new for r in source.registry.services())
            )
            source.registry.health_failures = 2  # ... and only then may the health check drop it
            await eventually(lambda: _echo_at(source, new))
            assert await _echo(source, "moved") == "moved"
            rows = rows_of(source, name)
            assert [(r.status, r.sighting.port) for r in rows] == [("ok", new)], rows
