"""Ending a test's child processes for good, whatever the test did with them.

A test that starts ``brainjar`` (or dnsmasq, Prometheus, serve-tools) checks how
it stops where that matters; its ``finally`` only has to make sure the process
is gone and its pipes are closed, even when the test failed or was cancelled.
"""

from __future__ import annotations

import contextlib
import subprocess
from typing import Any

import anyio
from anyio.abc import Process

__all__ = ["ended", "ended_popen"]


async def ended(process: Process, *, grace: float = 0.0) -> None:
    """Stops ``process`` if it still runs, reaps it and closes its pipes.

    With ``grace``, SIGTERM first and that many seconds to exit; then SIGKILL.
    Shielded: a cancelled or failed test still leaves no process behind.
    """
    with anyio.CancelScope(shield=True):
        if process.returncode is None and grace > 0:
            process.terminate()
            with anyio.move_on_after(grace):
                await process.wait()
        if process.returncode is None:
            process.kill()
        await process.wait()
        await process.aclose()


def ended_popen(process: subprocess.Popen[Any], *, grace: float = 0.0) -> None:
    """``ended`` for a ``subprocess.Popen``: SIGTERM within ``grace``, SIGKILL, reap, close."""
    if process.poll() is None and grace > 0:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
