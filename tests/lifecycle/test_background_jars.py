"""Background jars without a daemon: `run -d`, `ps`, `logs`, `stop`, `rm`.

Real processes throughout: the `brainjar` command as a user runs it, a detached
`brainjar run` under its shim, and a supervised model process that is the
scripted model (tests/supervisor_fixtures/scripted_model.py), so that a test can
see that no model process outlives its jar.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from model_process_support import gone, model_pids, scripted_model_manifest

from brainjar.lifecycle import send_signal, start_ticks, write_record

FIXTURES = Path(__file__).parent.parent / "supervisor_fixtures"
# Starting Python, a jar, its model process and uvicorn; generous for a loaded machine.
LIMIT = 60.0
POLL = 0.05
# A dozen `brainjar` commands each start Python: on a loaded machine that adds up.
pytestmark = pytest.mark.timeout(4 * LIMIT)
CHAT = {"model": "phoenix", "messages": [{"role": "user", "content": "are you there?"}]}


def _env(state: Path) -> dict[str, str]:
    return {**os.environ, "BRAINJAR_STATE": str(state), "XDG_STATE_HOME": str(state.parent)}


def _brainjar(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brainjar", *args],
        env=_env(state),
        capture_output=True,
        text=True,
        timeout=LIMIT,
        check=False,
    )


def _ps(state: Path, *args: str) -> list[dict[str, Any]]:
    done = _brainjar(state, "ps", "--json", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _until(condition: Callable[[], Any], *, limit: float = LIMIT) -> Any:
    deadline = time.monotonic() + limit
    while not (found := condition()):  # a process or a file state has no event to wait on
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(POLL)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manifest(folder: Path, *, name: str = "phoenix", port: int = 0) -> Path:
    """A jar whose model process is the scripted model; its pids go to ``folder/runs``."""
    endpoints = f"- openai: {{port: {port}}}\n"
    return scripted_model_manifest(
        folder, name=name, endpoints=endpoints, limit=LIMIT, process={"stop_grace": 2}
    )


def _run_detached(state: Path, manifest: Path, *args: str) -> tuple[str, str]:
    done = _brainjar(state, "run", "-d", str(manifest), *args)
    assert done.returncode == 0, done.stderr
    jar_id, name = done.stdout.split()
    return jar_id, name


def _ready(state: Path, jar_id: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        rows = [r for r in _ps(state) if r["id"] == jar_id]
        return rows[0] if rows and rows[0]["status"] == "ready" else None

    return dict(_until(ready))


def _kill_leftovers(state: Path) -> None:
    """Whatever a failed test left running is killed (by pid and start time)."""
    for path in state.glob("*.json"):
        record = json.loads(path.read_text())
        send_signal(record.get("pid"), record.get("start_ticks"), signal.SIGKILL)


def test_a_background_jar_serves_logs_and_stops_when_asked(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = _free_port()
    manifest = _manifest(tmp_path / "jar", port=port)
    try:
        jar_id, name = _run_detached(state, manifest, "--name", "shared")
        assert name == "shared"
        row = _ready(state, jar_id)
        url = f"http://127.0.0.1:{port}/v1"
        assert row["endpoints"] == [{"kind": "openai", "url": url}]
        assert row["backend"] == "openai" and row["manifest"] == str(manifest)
        assert row["pid"] and row["uptime"] is not None
        answer = httpx.post(f"{url}/chat/completions", json=CHAT, timeout=LIMIT, trust_env=False)
        assert answer.json()["choices"][0]["message"]["content"] == "I am here."

        logs = _brainjar(state, "logs", "shared")
        assert f"openai listening on {url}" in logs.stdout
        assert "[model] " in logs.stdout  # the model process's lines, prefixed

        other = _brainjar(state, "run", "-d", str(_manifest(tmp_path / "b")), "--name", "shared")
        assert other.returncode == 2 and "the name 'shared' is taken" in other.stderr
        same_port = _manifest(tmp_path / "c", name="other", port=port)
        other = _brainjar(state, "run", "-d", str(same_port))
        assert other.returncode == 2, other.stderr
        assert f"port {port} is already claimed by the running jar 'shared'" in other.stderr
        assert "Traceback" not in other.stderr
        refused = _brainjar(state, "rm", "shared")
        assert refused.returncode == 2 and "is running" in refused.stderr

        following = subprocess.Popen(
            [sys.executable, "-m", "brainjar", "logs", "-f", jar_id],
            env=_env(state),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert following.stdout is not None
            _until(lambda: "listening on" in following.stdout.readline())
            stopped = _brainjar(state, "stop", "shared", "--grace", "30s")
            assert stopped.returncode == 0, stopped.stderr
            assert following.wait(timeout=LIMIT) == 0  # -f ends with the jar
            rest = following.stdout.read()
        finally:
            following.kill()
            following.wait()
            if following.stdout is not None:
                following.stdout.close()
        assert "SIGTERM: draining" in rest

        assert _ps(state) == []
        assert [r["status"] for r in _ps(state, "--all")] == ["exited(0)"]
        assert all(gone(pid) for pid in model_pids(tmp_path / "jar"))
        assert _brainjar(state, "rm", "shared").returncode == 0
        assert _ps(state, "--all") == []
    finally:
        _kill_leftovers(state)


def test_a_background_jar_with_workers_is_one_jar_to_ps_and_stop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    manifest = _manifest(tmp_path / "jar")
    try:
        jar_id, _ = _run_detached(state, manifest, "--workers", "2")
        row = _ready(state, jar_id)
        (endpoint,) = row["endpoints"]
        answer = httpx.post(
            f"{endpoint['url']}/chat/completions", json=CHAT, timeout=LIMIT, trust_env=False
        )
        assert answer.json()["choices"][0]["message"]["content"] == "I am here."
        assert len(model_pids(tmp_path / "jar")) == 1
        assert "(2 workers)" in _brainjar(state, "logs", jar_id).stdout

        stopped = _brainjar(state, "stop", jar_id)
        assert stopped.returncode == 0, stopped.stderr
        assert [r["status"] for r in _ps(state, "--all")] == ["exited(0)"]
        assert all(gone(pid) for pid in model_pids(tmp_path / "jar"))
    finally:
        _kill_leftovers(state)


def test_a_killed_jar_shows_as_exited_and_leaves_no_model_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    try:
        jar_id, _ = _run_detached(state, _manifest(tmp_path / "jar"))
        row = _ready(state, jar_id)
        model = model_pids(tmp_path / "jar")
        assert model and not any(gone(pid) for pid in model)
        os.kill(row["pid"], signal.SIGKILL)

        def exited() -> str | None:
            status = _ps(state, "--all")[0]["status"]
            return status if status.startswith("exited") else None

        assert _until(exited) == "exited(137)"
        _until(lambda: all(gone(pid) for pid in model))
    finally:
        _kill_leftovers(state)


def test_a_stale_pid_is_never_signalled(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        ticks = start_ticks(other.pid)
        assert ticks is not None
        # The jar's pid now names another program: its start time differs.
        record = {
            "id": "5ca1ab1e0000",
            "name": "stale",
            "manifest": "jar.yaml",
            "backend": "openai",
            "created": time.time(),
            "ports": [],
            "endpoints": [],
            "phase": "ready",
            "pid": other.pid,
            "start_ticks": ticks - 1,
            "exit_code": None,
        }
        write_record(state, record)
        assert send_signal(other.pid, ticks - 1, signal.SIGTERM) is False
        assert _ps(state) == []
        assert [r["status"] for r in _ps(state, "--all")] == ["exited"]
        assert _brainjar(state, "stop", "stale", "--grace", "0s").returncode == 0
        assert _brainjar(state, "rm", "--force", "stale").returncode == 0
        assert other.poll() is None  # neither stop nor rm signalled it
        assert _ps(state, "--all") == []
    finally:
        other.kill()
        other.wait()
