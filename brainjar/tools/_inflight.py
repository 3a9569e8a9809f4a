"""Work in flight that a stopping server waits for, then cuts off.

The gRPC tool server counts its tool calls and the MCP HTTP server its requests
the same way: each runs in a cancel scope held here, a stop waits until none
runs (within its grace), and ``cut_off`` cancels those that outlive it, so each
can end with an error its caller understands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["InFlight"]


class InFlight:
    """The pieces of work running now, each in a cancel scope of its own."""

    def __init__(self) -> None:
        self._running: set[anyio.CancelScope] = set()
        self._idle = anyio.Event()

    @property
    def running(self) -> int:
        """How many run now."""
        return len(self._running)

    @contextmanager
    def track(self) -> Iterator[anyio.CancelScope]:
        """Runs the body as one piece of work; its scope's ``cancelled_caught`` says
        whether ``cut_off`` ended it."""
        with anyio.CancelScope() as scope:
            if not self._running:
                self._idle = anyio.Event()
            self._running.add(scope)
            try:
                yield scope
            finally:
                self._running.discard(scope)
                if not self._running:
                    self._idle.set()

    async def wait_idle(self) -> None:
        """Returns once nothing runs."""
        while self._running:
            await self._idle.wait()

    def cut_off(self) -> None:
        """Cancels everything still running."""
        for scope in list(self._running):
            scope.cancel()
