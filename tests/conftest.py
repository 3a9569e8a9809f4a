"""Fixtures for the whole suite: every test is checked for leaked threads,
child processes and sockets, as python-zeroconf's conftest does for threads."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# How long a test's leftovers may take to go away by themselves.
LEAK_GRACE = 5.0
# Pool threads owned by an event loop's executor end with the loop, after the test.
_POOL_PREFIXES = ("asyncio_", "ThreadPoolExecutor", "AnyIO worker thread")


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _sockets() -> set[str]:
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(f"{fd.name}->{target}")
    return found


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not t.name.startswith(_POOL_PREFIXES)}


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that leaves a thread, a child process or a socket behind."""
    threads, children, sockets = _threads(), _children(), _sockets()
    yield
    deadline = time.monotonic() + LEAK_GRACE
    while True:
        gc.collect()
        new_threads = [t for t in _threads() - threads if t.is_alive()]
        new_children = _children() - children
        new_sockets = _sockets() - sockets
        if not (new_threads or new_children or new_sockets) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid in new_children:  # do not let one test's leak fail the next ones
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    problems = []
    if new_threads:
        problems.append(f"threads left running: {sorted(t.name for t in new_threads)}")
    if new_children:
        problems.append(f"child processes left running: {sorted(new_children)}")
    if new_sockets:
        problems.append(f"sockets left open: {len(new_sockets)}")
    if problems:
        pytest.fail(f"{request.node.nodeid} leaked: " + "; ".join(problems), pytrace=False)
