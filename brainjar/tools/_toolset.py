"""A fixed source, a live one, and the set of all of a jar's tools.

The wrappers (filter, prefix, discovered) live in ``_wrappers`` and name clashes
in ``_clash``; both are re-exported here. The ``ToolSet`` opens every source
together and answers, at any moment, the tools offered now.

When two sources offer one name, a local source (LangChain, MCP) keeps it over
a discovered one (``Discovered``: found on the network, where anyone may announce
anything), unless the discover entry says ``prefer: discovered``; between two
of a kind, the one listed first keeps it. A name a local source has offered
stays its own while that source is down: a discovered tool never stands in for
it silently. Every clash is logged (a warning, once per outcome) and kept in
``ToolSet.clashes()`` for ``brainjar tools``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

import anyio

from brainjar.protocols import ToolSource

from ._clash import Clash, resolve, union, warn_clashes
from ._signal import ChangeSignal, Signalled, wait_any_changed
from ._tool import Tool
from ._wrappers import Discovered, Filtered, Prefixed, Wrapper, wrap

__all__ = [
    "Clash",
    "Discovered",
    "Filtered",
    "Prefixed",
    "StaticSource",
    "ToolSet",
    "Wrapper",
    "as_source",
    "union",
    "wrap",
]

log = logging.getLogger("brainjar.tools")


class StaticSource(Signalled):
    """A list of tools made in Python (e.g. with ``brainjar.tool``); ``set`` replaces it."""

    def __init__(self, tools: Sequence[Tool], *, name: str = "python") -> None:
        self._tools = list(tools)
        self._name = name
        self._changes = ChangeSignal()

    @property
    def name(self) -> str:
        return self._name

    def tools(self) -> Sequence[Tool]:
        return self._tools

    def set(self, tools: Sequence[Tool]) -> None:
        """Offers ``tools`` from now on; whoever serves them is told."""
        self._tools = list(tools)
        self._changes.bump()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _Live:
    """A function that returns the tools offered now, as a source that never says it changed."""

    def __init__(self, tools: Callable[[], Sequence[Tool]], *, name: str) -> None:
        self._read = tools
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def tools(self) -> Sequence[Tool]:
        return self._read()

    @property
    def version(self) -> int:
        return 0

    async def wait_changed(self, seen: int) -> int:
        if seen != 0:
            return 0
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover - sleep_forever only ends by cancellation

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def as_source(
    tools: ToolSource | Callable[[], Sequence[Tool]], *, name: str = "tools"
) -> ToolSource:
    """``tools`` as a source: a source as it is, a function as a source over it."""
    if isinstance(tools, ToolSource):
        return tools
    live: ToolSource = _Live(tools, name=name)
    return live


class ToolSet:
    """Every tool source of a jar, opened together; ``tools()`` is the union now.

    Sources open concurrently, so one slow MCP server does not hold up the rest.
    When two sources offer the same name, a local source keeps it over a
    discovered one (unless ``prefer: discovered``), else the one listed first;
    the other's tool is left out with a warning (use ``prefix`` to keep both).
    """

    def __init__(self, sources: Sequence[ToolSource], *, name: str = "toolset") -> None:
        self.sources = list(sources)
        self._name = name
        self._stack: AsyncExitStack | None = None
        self._warned: set[Any] = set()
        self._owned: dict[str, str] = {}
        self._own = ChangeSignal()

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int:
        return self._own.version + sum(s.version for s in self.sources)

    async def wait_changed(self, seen: int) -> int:
        return await wait_any_changed(self.sources, seen, own=self._own)

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)  # runs first on exit: the holders let go
            opened = [anyio.Event() for _ in self.sources]
            failures: list[BaseException] = []
            for source, event in zip(self.sources, opened, strict=True):
                tg.start_soon(self._hold, source, event, failures)
            for event in opened:
                await event.wait()
            if not failures:
                self._stack = stack.pop_all()
        if failures:
            # Raised once the others are closed, outside the task group, which would
            # wrap it in an ExceptionGroup that the CLI's `except BrainjarError` misses.
            raise failures[0]
        return self

    async def _hold(
        self, source: ToolSource, opened: anyio.Event, failures: list[BaseException]
    ) -> None:
        """Keeps one source open in a task of its own until the set closes."""
        try:
            async with source:
                opened.set()
                await anyio.sleep_forever()
        except Exception as exc:
            if opened.is_set():  # it opened, then failed to close: not the set's failure
                log.warning("%s did not close cleanly: %s", source.name, exc)
            else:
                failures.append(exc)
        finally:
            opened.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.__aexit__(exc_type, exc, tb)

    def tools(self) -> list[Tool]:
        """Every tool offered now, first source first; clashes as the class says."""
        kept, clashes = resolve(self.sources, owned=self._owned)
        warn_clashes(clashes, self._warned)
        return kept

    def clashes(self) -> list[Clash]:
        """The name clashes now: who keeps each name and who is left out."""
        return resolve(self.sources, owned=dict(self._owned))[1]

    def get(self, name: str) -> Tool | None:
        """The tool of that name offered now, if any."""
        return next((t for t in self.tools() if t.name == name), None)
