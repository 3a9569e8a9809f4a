"""A tool service on another host that crashes and comes back is found again.

Two network namespaces joined by a veth pair: a real ``brainjar serve-tools``
with a token on host A, announcing over mDNS on its wire address only, and a
jar's discover source on host B, browsing that wire. The service is SIGKILLed (a
crash: no goodbye) and restarted on the same port after the health check dropped
it, or on a new port while the health check is held off (as in
test_restart.py), so that the order of restart and removal never depends on the
machine's speed. Either way the jar must prove, open and call it again.

The jar runs in its own process (it must live in host B's namespace); it prints
one JSON line per step and waits for the test's word on stdin where the test must
act first, so the two sides stay in step without sleeps.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from mesh_support import TOOLS_MODULE
from netns import NETNS, Host, stop, two_hosts

pytestmark = NETNS

# Starting a process (imports, mDNS probing) or one step of the jar, on a busy machine.
LIMIT = 60
# gRPC ports on host A (its namespace is new: nothing else listens there).
FIRST_PORT = 50081
MOVED_PORT = 50082

JAR = r"""
import json, sys, anyio
from brainjar.registry import DiscoverSettings, DiscoverSource

STEP = 45  # limit on each step; the test's own limit is longer
PATIENT = 1_000_000  # failed health checks that never run out within a test

def say(**event):
    print(json.dumps(event), flush=True)

def echo_at(source, port):
    return next(
        (t for t in source.tools() if t.name == "echo" and t.source.endswith(f":{port}")), None
    )

async def until(source, what, predicate):
    with anyio.move_on_after(STEP):
        while not predicate():
            await anyio.sleep(0.05)
        return
    say(event="timeout", waiting_for=what, rows=[r.as_dict() for r in source.registry.services()])
    sys.exit(1)

async def main(mode, uid, address, token, first, again):
    first, again = int(first), int(again)
    config = DiscoverSettings(selector={"mesh": uid}, token=token, interfaces=[address])
    async with DiscoverSource(config, health_interval=0.3, health_failures=2) as source:
        say(event="browsing")
        await until(source, f"echo at :{first}", lambda: echo_at(source, first))
        if mode == "moved":
            # The crashed service's row stays until its restart has been seen ...
            source.registry.health_failures = PATIENT
        say(event="found")
        if mode == "same":
            await until(source, "the health check", lambda: not source.registry.services())
            say(event="dropped")
        await anyio.to_thread.run_sync(sys.stdin.readline)  # "restarted"
        if mode == "moved":
            await until(
                source,
                f"a sighting at :{again}",
                lambda: any(r.sighting.port == again for r in source.registry.services()),
            )
            source.registry.health_failures = 2  # ... and only then may the health check drop it
        await until(
            source,
            f"echo at :{again} and no other row",
            lambda: echo_at(source, again) and [
                (r.status, r.sighting.port) for r in source.registry.services()
            ] == [("ok", again)],
        )
        result = await echo_at(source, again).call({"text": "back again"})
        rows = [r.as_dict() for r in source.registry.services()]
        say(event="called", content=result.content, rows=rows)

anyio.run(main, *sys.argv[1:7])
"""


class _Lines:
    """The JSON lines a process prints, read on a thread so that waits have limits."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process, self.log = process, log
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                if line.startswith("{"):
                    self._queue.put(line)
        except ValueError:  # the pipe was closed by stop()
            pass
        self._queue.put(None)

    def next(self, what: str) -> dict[str, Any]:
        """The next JSON line, within ``LIMIT``."""
        try:
            line = self._queue.get(timeout=LIMIT)
        except queue.Empty:
            stop(self.process)
            pytest.fail(f"{what}: no line within {LIMIT} s: {self.log.read_text()}")
        if line is None:
            stop(self.process)
            pytest.fail(f"{what}: the process ended early: {self.log.read_text()}")
        event: dict[str, Any] = json.loads(line)
        return event


def _expect(lines: _Lines, kind: str) -> dict[str, Any]:
    event = lines.next(f"waiting for {kind!r}")
    assert event.get("event") == kind, event
    return event


class _Service:
    """``brainjar serve-tools`` on host A, started and crashed at will."""

    def __init__(self, folder: Path, host: Host, uid: str, token: str) -> None:
        (folder / "mesh_tools.py").write_text(TOOLS_MODULE)
        self.folder, self.host, self.uid, self.token = folder, host, uid, token
        self.running: list[subprocess.Popen[str]] = []

    def start(self, port: int) -> None:
        manifest = self.folder / f"svc-{port}.yaml"
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: ToolService
                metadata: {{name: back-{self.uid}, labels: {{mesh: "{self.uid}"}}}}
                spec:
                  tools:
                    - langchain: mesh_tools:echo
                  host: {self.host.address}
                  grpc: {{port: {port}}}
                  token: {self.token}
                  stop_grace: 1s
                  announce: {{interfaces: [{self.host.address}]}}
            """)
        )
        command = [sys.executable, "-m", "brainjar", "serve-tools", str(manifest), "--json"]
        log = self.folder / f"svc-{len(self.running)}.log"
        with log.open("w") as err:  # a file, not a pipe: nobody must drain it
            process = subprocess.Popen(
                self.host.command(*command),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=self.folder,
            )
        self.running.append(process)
        lines = _Lines(process, log)
        while lines.next("serve-tools starting").get("type") != "ready":
            pass

    def crash(self) -> None:
        process = self.running[-1]
        process.send_signal(signal.SIGKILL)  # no goodbye
        process.wait(timeout=LIMIT)

    def close(self) -> None:
        for process in self.running:
            stop(process)


def test_restarted_on_the_same_port_after_a_crash_is_found_again(tmp_path: Path) -> None:
    result = _restart(tmp_path, "same", FIRST_PORT)
    assert result["content"] == "back again", result
    assert [(r["status"], r["trust"], r["ports"]["grpc"]) for r in result["rows"]] == [
        ("ok", "proven", FIRST_PORT)
    ], result


def test_restarted_on_a_new_port_before_the_health_check_is_found_again(
    tmp_path: Path,
) -> None:
    result = _restart(tmp_path, "moved", MOVED_PORT)
    assert result["content"] == "back again", result
    assert [(r["status"], r["trust"], r["ports"]["grpc"]) for r in result["rows"]] == [
        ("ok", "proven", MOVED_PORT)
    ], result


def _restart(tmp_path: Path, mode: str, again: int) -> dict[str, Any]:
    """Runs the service, crashes it, restarts it on ``again``; the jar's last word."""
    uid, token = uuid.uuid4().hex[:8], uuid.uuid4().hex
    with two_hosts() as (svc, jar_host):
        service = _Service(tmp_path, svc, uid, token)
        log = tmp_path / "jar.log"
        with log.open("w") as err:
            jar = subprocess.Popen(
                jar_host.command(
                    sys.executable, "-c", JAR, mode, uid, jar_host.address, token,
                    str(FIRST_PORT), str(again),
                ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=tmp_path,  # not the repository, whose brainjar/ folder lacks registry/
            )  # fmt: skip
        lines = _Lines(jar, log)
        try:
            _expect(lines, "browsing")
            service.start(FIRST_PORT)
            _expect(lines, "found")
            service.crash()
            if mode == "same":
                _expect(lines, "dropped")
            service.start(again)
            assert jar.stdin is not None
            jar.stdin.write("restarted\n")
            jar.stdin.flush()
            return _expect(lines, "called")
        finally:
            stop(jar)
            service.close()
