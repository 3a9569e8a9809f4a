"""A change signal: a version counter and a way to wait for the next version.

Every ``ToolSource`` has one, so whoever serves its tools (the MCP gateway, the
gRPC server, ``serve-tools``' announcement) waits for a change instead of polling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from brainjar.protocols import ToolSource

__all__ = ["ChangeSignal", "Signalled", "wait_any_changed"]


class ChangeSignal:
    """A version that only goes up; ``wait(seen)`` returns once it is past ``seen``."""

    def __init__(self) -> None:
        self.version = 0
        self._event: anyio.Event | None = None  # made on first wait: needs an event loop

    def bump(self) -> None:
        """A change happened: wake every waiter."""
        self.version += 1
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, seen: int) -> int:
        """Waits until the version differs from ``seen``; returns the new version."""
        while self.version == seen:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
        return self.version


class Signalled:
    """For a source whose own ``_changes`` signal says when its tools change.

    Gives the ``version`` and ``wait_changed`` of the ``ToolSource`` protocol;
    the source sets ``self._changes = ChangeSignal()`` and bumps it.
    """

    _changes: ChangeSignal

    @property
    def version(self) -> int:
        return self._changes.version

    async def wait_changed(self, seen: int) -> int:
        return await self._changes.wait(seen)


async def wait_any_changed(sources: Iterable[ToolSource], seen: int, *, own: ChangeSignal) -> int:
    """For a source made of others: waits until ``own`` or any inner source changes.

    The combined version is ``own.version`` plus every inner version, each of which
    only goes up, so it changes exactly when one of them does.
    """
    inner = list(sources)

    def version() -> int:
        return own.version + sum(s.version for s in inner)

    now = version()
    if now != seen:
        return now
    async with anyio.create_task_group() as tg:

        async def watch(wait_for: int, waiter: ChangeSignal | ToolSource) -> None:
            if isinstance(waiter, ChangeSignal):
                await waiter.wait(wait_for)
            else:
                await waiter.wait_changed(wait_for)
            tg.cancel_scope.cancel()

        tg.start_soon(watch, own.version, own)
        for source in inner:
            tg.start_soon(watch, source.version, source)
    return version()
