"""The supervised model process: started, probed until ready, restarted, stopped.

``supervise(spec)`` is an async context manager. Entering it starts the
command, waits until its readiness probe answers, and yields a
:class:`SupervisedProcess`; a background task restarts the command by its
restart policy, with exponential backoff and a crash-loop limit. Leaving it
stops the command and everything the command started, also on error or
cancellation. The command runs under ``_reaper.py``, so it dies with brainjar
even when brainjar is killed with SIGKILL. Every line of its output and every
message is redacted (``brainjar._redact``) before it is logged or kept for an error.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import httpx
from anyio.abc import Process, TaskStatus

from brainjar._errors import ProcessError
from brainjar._redact import redact
from brainjar.tools._signal import ChangeSignal

from ._process import running

__all__ = ["ProcessSpec", "ProcessState", "SupervisedProcess", "free_port", "supervise"]

ProcessState = Literal["starting", "ready", "restarting", "failed", "stopped"]

# How often the readiness probe asks, and how long one probe request may take.
PROBE_INTERVAL = 0.1
PROBE_REQUEST_TIMEOUT = 2.0
# How often a running process is checked for its exit; short, because until the
# supervisor notices, the process is still reported ready.
EXIT_POLL_INTERVAL = 0.1
# How many lines of output log_tail() keeps.
LOG_TAIL_LINES = 40


@dataclass(frozen=True, kw_only=True)
class ProcessSpec:
    """What to run and how to supervise it.

    Attributes:
        name: shown in log prefixes and messages, e.g. ``"model"``.
        command: the argv; ``{port}`` in any argument is replaced by the port.
        env: added to ``os.environ``; ``{port}`` is replaced in values too.
        cwd: the working directory; None for brainjar's own.
        port: the port the command listens on; None picks a free loopback port.
        ready_http: a path probed with GET on ``http://127.0.0.1:{port}{path}``;
            any 2xx means ready. None: ready as soon as it started.
        ready_timeout: seconds the command has to become ready, each time it starts.
        restart: when to start it again after it exited by itself.
        max_restarts: restarts allowed within ``restart_window`` seconds before
            the supervisor gives up (a crash loop).
        restart_window: see ``max_restarts``.
        backoff_initial: the wait before the first restart; it doubles each time.
        backoff_max: the longest wait between restarts.
        stop_grace: seconds between SIGTERM and SIGKILL when stopping.
    """

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    port: int | None = None
    ready_http: str | None = None
    ready_timeout: float = 120.0
    restart: Literal["never", "on-failure", "always"] = "on-failure"
    max_restarts: int = 5
    restart_window: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    stop_grace: float = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _write_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class SupervisedProcess:
    """A running, supervised command, as yielded by :func:`supervise`.

    Attributes:
        spec: what it runs.
        port: the port it was given (kept across restarts).
        url: ``http://127.0.0.1:{port}``.
        state: starting, ready, restarting, failed (gave up) or stopped; each
            change wakes :meth:`wait_changed`.
        version: goes up with every change of ``state``.
        restarts: how many times it was started again.
        failure: why the supervisor gave up, once ``state`` is failed.
        last_exit: the exit code of the last run that exited after it was ready;
            None before one did.
    """

    def __init__(self, spec: ProcessSpec, *, port: int, log: Callable[[str], None]) -> None:
        self.spec = spec
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._state: ProcessState = "starting"
        self._changes = ChangeSignal()
        self.restarts = 0
        self.failure: ProcessError | None = None
        self._log = log
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._process: Process | None = None
        self._restart_times: deque[float] = deque()
        self._last_code: int | None = None
        self._last_exit: int | None = None
        self._command = [a.replace("{port}", str(port)) for a in spec.command]
        extra = {k: v.replace("{port}", str(port)) for k, v in spec.env.items()}
        self._env = {**os.environ, **extra}

    @property
    def state(self) -> ProcessState:
        """starting, ready, restarting, failed (gave up) or stopped."""
        return self._state

    @state.setter
    def state(self, value: ProcessState) -> None:
        if value == self._state:
            return
        self._state = value
        self._changes.bump()

    @property
    def version(self) -> int:
        """Goes up with every change of ``state``."""
        return self._changes.version

    @property
    def last_exit(self) -> int | None:
        """The exit code of the last run that exited after it was ready, or None."""
        return self._last_exit

    async def wait_changed(self, seen: int) -> int:
        """Waits until ``version`` differs from ``seen``; returns the new version.

        Callers bound the wait themselves (``anyio.fail_after``).
        """
        return await self._changes.wait(seen)

    async def wait_ready(self) -> None:
        """Waits until the process is ready (at once if it is).

        Callers bound the wait themselves (``anyio.fail_after``).

        Raises:
            ProcessError: the supervisor gave up on it, or it stopped for good.
        """
        while self.state != "ready":
            if self.state in ("failed", "stopped"):
                raise self.failure or ProcessError(
                    f"the {self.spec.name} process ({shlex.join(self._command)}) has stopped "
                    f"(exit code {self._last_exit}) and its restart policy "
                    f"{self.spec.restart!r} does not start it again; start brainjar again"
                )
            await self.wait_changed(self.version)

    @property
    def pid(self) -> int | None:
        """The pid of the process group leader (the reaper), None between runs.

        The command runs as its child in the same process group.
        """
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def log_tail(self) -> list[str]:
        """The last lines the command wrote to stdout and stderr."""
        return list(self._tail)

    def __repr__(self) -> str:
        return f"<SupervisedProcess {self.spec.name} {self.state} {self.url} pid={self.pid}>"

    def _on_line(self, line: str) -> None:
        # Redacted here, so that neither the log nor an error's tail holds a secret
        # the command printed (its own --api-key, a ${VAR} of the manifest).
        line = redact(line)
        self._tail.append(line)
        self._log(f"[{self.spec.name}] {line}")

    def _say(self, message: str) -> None:
        self._log(f"[{self.spec.name}] brainjar: {redact(message)}")

    async def _run(self, *, task_status: TaskStatus[None]) -> None:
        """Runs the command until cancelled, restarting it by the policy."""
        error = await self._run_once(task_status=task_status)
        if error is not None:  # the first start failed: supervise() raises it
            self.state = "failed"
            raise error
        while True:
            code = self._last_code
            delay = self._restart_delay(code)
            if delay is None:
                return
            self.state = "restarting"
            self._say(f"restarting in {delay:.1f}s (restart {self.restarts + 1})")
            await anyio.sleep(delay)
            self.restarts += 1
            self._restart_times.append(time.monotonic())
            error = await self._run_once(task_status=None)
            if error is not None:
                self._say(str(error).splitlines()[0])

    def _restart_delay(self, code: int | None) -> float | None:
        """The wait before the next start, or None (and a final state) to give up."""
        spec = self.spec
        what = "did not get ready" if code is None else f"exited with code {code}"
        if spec.restart == "never" or (spec.restart == "on-failure" and code == 0):
            if code == 0:
                self.state = "stopped"
                self._say(f"{what}; restart policy {spec.restart!r}, not restarting")
                return None
            self._give_up(f"{what} and its restart policy is 'never'")
            return None
        now = time.monotonic()
        while self._restart_times and now - self._restart_times[0] > spec.restart_window:
            self._restart_times.popleft()
        if len(self._restart_times) >= spec.max_restarts:
            self._give_up(
                f"{what} after {len(self._restart_times)} restarts within "
                f"{spec.restart_window:g}s (max_restarts {spec.max_restarts}): a crash loop"
            )
            return None
        backoff: float = spec.backoff_initial * 2.0 ** len(self._restart_times)
        return min(spec.backoff_max, backoff)

    def _give_up(self, reason: str) -> None:
        self.failure = ProcessError(
            f"{self.spec.name} process ({shlex.join(self._command)}) {reason}; "
            "brainjar gave up on it. Fix the cause shown in its log, then start again.",
            log_tail=self.log_tail(),
        )
        self.state = "failed"
        self._say(f"gave up: {reason}")

    async def _run_once(self, *, task_status: TaskStatus[None] | None) -> ProcessError | None:
        """Starts the command once and waits for its exit (None) or a start error.

        After a start error ``_last_code`` stays None: "did not get ready".
        """
        self._last_code = None
        error: ProcessError | None = None
        started = time.monotonic()
        try:
            async with running(
                self._command,
                env=self._env,
                cwd=self.spec.cwd,
                grace=self.spec.stop_grace,
                on_line=self._on_line,
            ) as process:
                self._process = process
                error = await self._wait_ready(process, started=started)
                if error is None:
                    self.state = "ready"
                    if task_status is not None:
                        task_status.started()
                    while process.returncode is None:
                        with anyio.move_on_after(EXIT_POLL_INTERVAL):
                            await process.wait()
                    self._last_code = self._last_exit = process.returncode
                    self._say(f"exited with code {self._last_code}")
        except OSError as exc:
            error = ProcessError(
                f"could not start the {self.spec.name} process "
                f"({shlex.join(self._command)}): {exc}; check its cwd and command"
            )
        finally:
            self._process = None
        return error

    async def _wait_ready(self, process: Process, *, started: float) -> ProcessError | None:
        path = self.spec.ready_http
        if path is None:
            return None
        probe = self.url + path
        command = shlex.join(self._command)
        timeout = self.spec.ready_timeout
        async with httpx.AsyncClient(timeout=PROBE_REQUEST_TIMEOUT, trust_env=False) as client:
            with anyio.move_on_after(timeout):
                while process.returncode is None:
                    with contextlib.suppress(httpx.HTTPError):
                        response = await client.get(probe)
                        if response.is_success:
                            return None
                    with anyio.move_on_after(PROBE_INTERVAL):
                        await process.wait()
        waited = time.monotonic() - started
        if process.returncode is not None:
            return ProcessError(
                f"the {self.spec.name} process ({command}) exited with code "
                f"{process.returncode} before it was ready (probed {probe} for {waited:.1f}s); "
                "see its log below, fix the command or its configuration and try again",
                log_tail=self.log_tail(),
            )
        return ProcessError(
            f"the {self.spec.name} process ({command}) was not ready after {waited:.1f}s: "
            f"GET {probe} never answered 2xx; raise ready.timeout (now {timeout:g}s) if it is "
            "only slow, or check the command and the probe path",
            log_tail=self.log_tail(),
        )


@asynccontextmanager
async def supervise(
    spec: ProcessSpec, *, log: Callable[[str], None] | None = None
) -> AsyncIterator[SupervisedProcess]:
    """Starts ``spec``'s command, waits until it is ready, and supervises it.

    Args:
        spec: what to run.
        log: receives each output line as ``"[name] line"``; default: stderr.

    Yields:
        The supervised process; it is stopped, with all it started, on exit.

    Raises:
        ProcessError: it exited before it was ready, or was not ready in time.
    """
    proc = SupervisedProcess(spec, port=spec.port or free_port(), log=log or _write_stderr)
    body_error: BaseException | None = None
    # The body's exception is kept out of the task group so that it is raised
    # as itself, not inside an ExceptionGroup.
    async with anyio.create_task_group() as tg:
        try:
            await tg.start(proc._run)
        except BaseException as exc:
            body_error = exc
        else:
            try:
                yield proc
            except BaseException as exc:
                body_error = exc
        finally:
            tg.cancel_scope.cancel()
    if proc.state != "failed":
        proc.state = "stopped"
    if body_error is not None:
        raise body_error
