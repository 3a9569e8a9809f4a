"""The supervisor against real processes: tests/supervisor_fixtures/*.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from model_process_support import gone

from brainjar import ProcessError
from brainjar.process._supervisor import ProcessSpec, SupervisedProcess, supervise

FIXTURES = Path(__file__).parent / "supervisor_fixtures"
# Limits for things that should happen quickly on any machine.
LIMIT = 20.0
POLL = 0.02


def _script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(FIXTURES / name), *args]


def _server_spec(*args: str, **kwargs: object) -> ProcessSpec:
    options: dict[str, object] = {
        "name": "web",
        "command": _script("http_server.py", "{port}", *args),
        "ready_http": "/health",
        "ready_timeout": LIMIT,
        "backoff_initial": 0.05,
        "stop_grace": 1.0,
    }
    options.update(kwargs)
    return ProcessSpec(**options)  # type: ignore[arg-type]


async def _until(condition: object, *, limit: float = LIMIT) -> None:
    assert callable(condition)
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - a pid or a file has no event to wait on
            await anyio.sleep(POLL)


async def _read_pids(path: Path) -> list[int]:
    await _until(path.exists)
    return [int(p) for p in (await anyio.Path(path).read_text()).split()]


async def _get(proc: SupervisedProcess, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=LIMIT) as client:
        return await client.get(proc.url + path)


async def test_ready_probe_waits_for_2xx() -> None:
    lines: list[str] = []
    async with supervise(_server_spec("--delay", "0.3"), log=lines.append) as proc:
        states = [proc.state]
        assert (await _get(proc, "/health")).status_code == 200
        pid = proc.pid
        assert pid is not None
        assert proc.url == f"http://127.0.0.1:{proc.port}"
        assert f"listening on {proc.port}" in proc.log_tail()
        assert f"[web] listening on {proc.port}" in lines
    states.append(proc.state)
    assert states == ["ready", "stopped"]
    assert proc.pid is None
    await _until(lambda: gone(pid))


async def test_never_ready_raises_with_log_tail() -> None:
    spec = ProcessSpec(
        name="model", command=_script("never_ready.py"), ready_http="/v1/models", ready_timeout=0.5
    )
    with anyio.fail_after(LIMIT), pytest.raises(ProcessError) as caught:
        async with supervise(spec, log=lambda _: None):
            pytest.fail("should not get ready")
    message = str(caught.value)
    assert "was not ready after" in message
    assert "/v1/models" in message
    assert "ready.timeout" in message
    assert "still loading weights..." in caught.value.log_tail
    assert "still loading weights..." in message


async def test_crash_at_start_raises_with_log_tail() -> None:
    spec = ProcessSpec(name="model", command=_script("crash_at_start.py"), ready_http="/")
    with anyio.fail_after(LIMIT), pytest.raises(ProcessError) as caught:
        async with supervise(spec, log=lambda _: None):
            pytest.fail("should not get ready")
    assert "exited with code 2 before it was ready" in str(caught.value)
    assert "boom: no such model file 'missing.gguf'" in caught.value.log_tail


async def test_missing_command_raises() -> None:
    spec = ProcessSpec(name="model", command=["brainjar-no-such-command"], ready_http="/")
    with anyio.fail_after(LIMIT), pytest.raises(ProcessError) as caught:
        async with supervise(spec, log=lambda _: None):
            pytest.fail("should not get ready")
    assert "exited with code 127" in str(caught.value)
    assert "cannot start 'brainjar-no-such-command'" in str(caught.value)


async def test_crash_after_ready_is_restarted() -> None:
    async with supervise(_server_spec(), log=lambda _: None) as proc:
        first = (await _get(proc, "/health")).text
        await _get(proc, "/exit?code=1")
        await _until(lambda: proc.restarts == 1 and proc.state == "ready")
        second = await _get(proc, "/health")
        assert second.status_code == 200
        assert second.text != first  # another process answers, on the same port
        assert proc.failure is None


async def test_crash_loop_gives_up(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    spec = _server_spec(
        "--runs-file", str(runs), "--fail-from-run", "2", max_restarts=2, backoff_initial=0.01
    )
    lines: list[str] = []
    async with supervise(spec, log=lines.append) as proc:
        await _get(proc, "/exit?code=1")
        await _until(lambda: proc.state == "failed")
        assert proc.restarts == 2
        assert proc.pid is None
        assert isinstance(proc.failure, ProcessError)
        assert "crash loop" in str(proc.failure)
        assert "crashing on start number 3" in proc.failure.log_tail
        assert any("gave up" in line for line in lines)
    assert proc.state == "failed"
    assert len(runs.read_text().splitlines()) == 3


async def test_restart_never_fails(tmp_path: Path) -> None:
    async with supervise(_server_spec(restart="never"), log=lambda _: None) as proc:
        await _get(proc, "/exit?code=4")
        await _until(lambda: proc.state == "failed")
        assert proc.restarts == 0
        assert proc.failure is not None
        assert "exited with code 4" in str(proc.failure)


async def test_clean_exit_with_on_failure_is_not_restarted() -> None:
    async with supervise(_server_spec(), log=lambda _: None) as proc:
        await _get(proc, "/exit?code=0")
        await _until(lambda: proc.state == "stopped")
        assert proc.failure is None
        assert proc.restarts == 0


async def test_always_restarts_after_clean_exit() -> None:
    async with supervise(_server_spec(restart="always"), log=lambda _: None) as proc:
        await _get(proc, "/exit?code=0")
        await _until(lambda: proc.restarts == 1 and proc.state == "ready")


async def test_port_placeholder_in_env_and_fixed_port(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import os; print('port', os.environ['THE_PORT'], flush=True)"]
    spec = ProcessSpec(
        name="p", command=command, env={"THE_PORT": "{port}"}, port=5999, restart="never"
    )
    async with supervise(spec, log=lambda _: None) as proc:
        await _until(lambda: "port 5999" in proc.log_tail())
        assert proc.url == "http://127.0.0.1:5999"


async def test_process_ignoring_sigterm_is_killed_after_grace(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    spec = ProcessSpec(
        name="stubborn", command=_script("ignore_sigterm.py", str(pidfile)), stop_grace=0.3
    )
    async with supervise(spec, log=lambda _: None) as proc:
        [pid] = await _read_pids(pidfile)
        await _until(lambda: "ignoring SIGTERM" in proc.log_tail())
    assert gone(pid)


async def test_grandchild_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    spec = ProcessSpec(
        name="tree", command=_script("spawn_grandchild.py", str(pidfile)), stop_grace=0.3
    )
    with anyio.fail_after(LIMIT):
        async with supervise(spec, log=lambda _: None) as proc:
            child, grandchild = await _read_pids(pidfile)
            await _until(lambda: "grandchild up" in proc.log_tail())
    await _until(lambda: gone(child) and gone(grandchild))


async def test_exception_in_body_stops_process_and_propagates(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    spec = ProcessSpec(
        name="tree", command=_script("spawn_grandchild.py", str(pidfile)), stop_grace=0.3
    )
    with pytest.raises(RuntimeError, match="in the body"):  # itself, not an ExceptionGroup
        async with supervise(spec, log=lambda _: None):
            pids = await _read_pids(pidfile)
            raise RuntimeError("in the body")
    await _until(lambda: all(gone(pid) for pid in pids))


async def test_cancellation_stops_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    spec = ProcessSpec(
        name="tree", command=_script("spawn_grandchild.py", str(pidfile)), stop_grace=0.3
    )
    pids: list[int] = []
    with anyio.CancelScope() as scope:
        async with supervise(spec, log=lambda _: None):
            pids = await _read_pids(pidfile)
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    await _until(lambda: all(gone(pid) for pid in pids))


async def test_cancellation_while_starting_stops_process() -> None:
    spec = ProcessSpec(name="model", command=_script("never_ready.py"), ready_http="/")
    lines: list[str] = []

    async def cancel_when_loading(scope: anyio.CancelScope) -> None:
        await _until(lambda: any("still loading" in line for line in lines))
        scope.cancel()

    with anyio.CancelScope() as outer:
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_when_loading, outer)
            async with supervise(spec, log=lines.append):
                pytest.fail("should not get ready")
    assert outer.cancelled_caught


async def test_parent_sigkilled_leaves_no_orphans(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    driver = await anyio.open_process(
        [sys.executable, str(FIXTURES / "driver.py"), str(pidfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parents[1],
    )
    async with driver:
        assert driver.stdout is not None
        with anyio.fail_after(LIMIT):
            first = (await driver.stdout.receive()).decode()
        assert first.startswith("READY "), first
        reaper = int(first.split()[1])
        child, grandchild = await _read_pids(pidfile)
        os.kill(driver.pid, signal.SIGKILL)
        await driver.wait()
        await _until(lambda: gone(reaper) and gone(child) and gone(grandchild))
