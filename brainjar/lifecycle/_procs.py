"""Processes by pid and start time: a pid reused by another program is never signalled.

A pid alone names a process only while it lives; once it is reaped the kernel
may give the number to anything. So every record keeps the process's start time
(``/proc/<pid>/stat`` field 22, clock ticks since boot) beside its pid, and a
signal is sent only to the process whose start time still matches.
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["alive", "send_signal", "start_ticks"]


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` from the third (state) on; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # pid (comm) state ...: comm may hold spaces and parentheses, so split after the last ')'.
    return stat.rsplit(b")", 1)[-1].decode().split()


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (field 22 of its stat), or None if there is none."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


def alive(pid: int | None, ticks: int | None) -> bool:
    """Whether ``pid`` is still the process that started at ``ticks``, and not a zombie."""
    if pid is None or ticks is None:
        return False
    fields = _stat_fields(pid)
    if fields is None or len(fields) <= 19 or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == ticks


def send_signal(pid: int | None, ticks: int | None, signum: signal.Signals) -> bool:
    """Sends ``signum`` to ``pid`` only if it is the process that started at ``ticks``.

    The process is held by a pidfd while its start time is checked, so it cannot
    be reaped and its pid reused between the check and the signal.

    Returns:
        True if the signal was sent; False if that process is gone (its pid may
        belong to another program now, which is left alone).
    """
    if pid is None or ticks is None:
        return False
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    except (OSError, AttributeError):  # no pidfd here: check, then signal by pid
        pidfd = -1
    try:
        if not alive(pid, ticks):
            return False
        with contextlib.suppress(ProcessLookupError):
            if pidfd >= 0:
                signal.pidfd_send_signal(pidfd, signum)
            else:
                os.kill(pid, signum)
            return True
        return False
    finally:
        if pidfd >= 0:
            os.close(pidfd)
