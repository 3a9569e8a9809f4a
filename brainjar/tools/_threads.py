"""The threads one source's sync tools run in (``@tool`` functions, LangChain tools).

A sync tool cannot be cancelled: when its call times out, the thread goes on
until the function returns, maybe never. A shared pool (asyncio's default
executor, ``min(32, cpus + 4)`` threads; anyio's worker threads, which
``to_thread.run_sync`` will not abandon) lets a few hung tools starve every other
sync call in the process, holds a timed-out call until the function returns,
and makes ``asyncio.run`` wait for them at exit. So each source gets its own
bounded set of daemon threads:

- a thread counts against its source until its function really returns, even
  after the call that started it gave up;
- with every thread taken by calls that gave up (stuck tools), a call fails at
  once with a ``ToolError`` that says so, instead of queueing behind them; while
  some are still awaited, a call waits for one of those to end;
- the threads are daemons and nobody joins them: closing the jar and leaving
  the interpreter never wait for a stuck tool.

Threads are made per call, not reused: a tool that never returns keeps its
thread, and a pool that reuses threads would only hide that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio

from brainjar._errors import ToolError

__all__ = ["TOOL_THREADS", "ToolThreads"]

T = TypeVar("T")

# How many sync tool calls of one source may run at once, stuck ones included.
TOOL_THREADS = 8


class ToolThreads:
    """At most ``size`` threads for one source's sync tools; see the module docstring."""

    def __init__(self, owner: str, *, size: int = TOOL_THREADS) -> None:
        if size < 1:
            raise ValueError(f"{owner}: a source needs at least one tool thread, not {size}")
        self.owner = owner
        self.size = size
        self._lock = threading.Lock()
        self._running = 0  # threads whose function has not returned; changed by the threads
        self._awaited = 0  # of those, the ones a call still waits on; changed on the loop
        self._freed: anyio.Event | None = None
        self._serial = 0

    @property
    def running(self) -> int:
        """Threads whose tool function has not returned yet."""
        with self._lock:
            return self._running

    @property
    def stuck(self) -> int:
        """Threads still in a tool whose call has given up on it (timed out, cancelled)."""
        with self._lock:
            return max(0, self._running - self._awaited)

    async def run(self, func: Callable[[], T], *, name: str) -> T:
        """``func()`` in a thread of its own; cancelling the call abandons the thread.

        Raises:
            ToolError: every thread is held by a tool that did not return.
            BaseException: whatever ``func`` raised, ``SystemExit`` included.
        """
        await self._take(name)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # a cancelled waiter must not cancel the result
        context = contextvars.copy_context()

        def work() -> None:
            try:
                result = context.run(func)
            except BaseException as exc:  # SystemExit too: the caller decides what it means
                self._release()
                future.set_exception(exc)
            else:
                self._release()
                future.set_result(result)

        self._serial += 1
        thread = threading.Thread(
            target=work, name=f"brainjar tool {name} #{self._serial}", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            self._release()
            self._give_up()
            raise
        try:
            # asyncio's bridge drops the result quietly when the loop is gone by then.
            return await asyncio.wrap_future(future)
        finally:
            self._give_up()

    async def _take(self, name: str) -> None:
        while True:
            with self._lock:
                if self._running < self.size:
                    self._running += 1
                    self._awaited += 1
                    return
                stuck = self._running - self._awaited
            if stuck >= self.size:
                raise ToolError(
                    f"{self.owner} has {stuck} threads stuck in tools that did not return; "
                    f"{name} was not started. A call that timed out holds its thread "
                    f"until the function returns: restart the jar, and give the tool that "
                    f"hangs a timeout of its own (or the source more than {self.size} "
                    f"threads: LangChainSource(threads=N), @tool(threads=N))"
                )
            if self._freed is None:
                self._freed = anyio.Event()
            await self._freed.wait()

    def _release(self) -> None:
        """In the tool's thread, once its function has returned."""
        with self._lock:
            self._running -= 1

    def _give_up(self) -> None:
        """On the loop, when a call stops waiting: done, or cancelled with its thread abandoned."""
        with self._lock:
            self._awaited -= 1
        freed, self._freed = self._freed, None
        if freed is not None:
            freed.set()
