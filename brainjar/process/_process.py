"""One run of a supervised command: started through the reaper, logged, stopped in order.

The supervisor (``_supervisor.py``) decides when to start and restart; this
module knows how to start one process, pass on its output line by line, and
stop it without leaving anything behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, Process

__all__ = ["REAPER_PATH", "reaper_command", "running"]

REAPER_PATH = Path(__file__).with_name("_reaper.py")
# After the reaper was asked to stop, how long past its own grace period we wait.
STOP_MARGIN = 2.0
# After SIGTERM, then after SIGKILL, how long we wait for the reaper to exit.
TERM_WAIT = 2.0
KILL_WAIT = 5.0
# After the process exited, how long its output may take to reach end-of-file;
# a grandchild that escaped the group may hold the pipe forever.
DRAIN_TIMEOUT = 1.0
# A line longer than this is passed on in pieces.
MAX_LINE = 64 * 1024


def reaper_command(command: Sequence[str], *, grace: float) -> list[str]:
    """The argv that runs ``command`` under the reaper, tied to this process's life."""
    return [
        sys.executable,
        "-I",  # no user site, no PYTHON* variables, no script folder on sys.path
        "-S",  # no site: the reaper needs only the standard library, and starts faster
        str(REAPER_PATH),
        "--ppid",
        str(os.getpid()),
        "--grace",
        str(grace),
        "--lifeline",
        "--",
        *command,
    ]


async def _pump(
    stream: ByteReceiveStream, on_line: Callable[[str], None], done: anyio.Event
) -> None:
    try:
        await _pump_lines(stream, on_line)
    finally:
        done.set()


async def _pump_lines(stream: ByteReceiveStream, on_line: Callable[[str], None]) -> None:
    pending = b""
    ended = (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError)
    with contextlib.suppress(*ended):
        while True:
            pending += await stream.receive()
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE:
                lines.append(pending)
                pending = b""
            for line in lines:
                on_line(line.decode(errors="replace").rstrip("\r"))
    if pending:
        on_line(pending.decode(errors="replace").rstrip("\r"))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _stop(process: Process, *, grace: float) -> None:
    """Stops the reaper's group: close its lifeline, grace, SIGTERM, then SIGKILL."""
    if process.returncode is None and process.stdin is not None:
        # Closing stdin is the reaper's cue: it sends SIGTERM to its group,
        # waits ``grace`` and SIGKILLs whatever is left.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    for sig, limit in (
        (None, grace + STOP_MARGIN),
        (signal.SIGTERM, TERM_WAIT),
        (signal.SIGKILL, KILL_WAIT),
    ):
        if process.returncode is not None:
            return
        if sig is not None:
            _signal_group(process.pid, sig)
        # anyio's wait() returns at exit, not when a grandchild lets go of the pipes.
        with anyio.move_on_after(limit):
            await process.wait()


@contextlib.asynccontextmanager
async def running(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None,
    grace: float,
    on_line: Callable[[str], None],
) -> AsyncIterator[Process]:
    """Starts ``command`` under the reaper; stops it and its group on exit.

    Output lines of stdout and stderr go to ``on_line`` as they come.

    Raises:
        OSError: the reaper itself could not be started (a bad ``cwd``, say).
    """
    process = await anyio.open_process(
        reaper_command(command, grace=grace),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    drained = [anyio.Event(), anyio.Event()]
    try:
        async with anyio.create_task_group() as tg:
            try:
                for stream, done in zip((process.stdout, process.stderr), drained, strict=True):
                    if stream is None:
                        done.set()
                    else:
                        tg.start_soon(_pump, stream, on_line, done)
                yield process
            finally:
                with anyio.CancelScope(shield=True):
                    await _stop(process, grace=grace)
                    with anyio.move_on_after(DRAIN_TIMEOUT):
                        for done in drained:
                            await done.wait()
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process, grace=grace)
            await process.aclose()
