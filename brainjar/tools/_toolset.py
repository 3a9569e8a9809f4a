"""Source wrappers (filter, prefix), a fixed source, and the set of all of a jar's tools.

Filtering and prefixing wrap a source; they are not flags inside it. The
``ToolSet`` opens every source together and answers, at any moment, the tools
offered now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from types import TracebackType
from typing import Self

import anyio

from brainjar.protocols import ToolSource

from ._signal import ChangeSignal, Signalled, wait_any_changed
from ._tool import Tool

__all__ = [
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


class Wrapper:
    """A source around another: every part of the protocol goes to the inner one."""

    def __init__(self, inner: ToolSource) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def tools(self) -> Sequence[Tool]:
        return self.inner.tools()

    @property
    def version(self) -> int:
        return self.inner.version

    async def wait_changed(self, seen: int) -> int:
        return await self.inner.wait_changed(seen)

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)


class Filtered(Wrapper):
    """Only the tools named in ``include`` (if given), less those in ``exclude``."""

    def __init__(
        self, inner: ToolSource, *, include: Sequence[str] | None, exclude: Sequence[str] = ()
    ) -> None:
        super().__init__(inner)
        self.include = None if include is None else set(include)
        self.exclude = set(exclude)

    def tools(self) -> Sequence[Tool]:
        return [
            t
            for t in self.inner.tools()
            if (self.include is None or t.name in self.include) and t.name not in self.exclude
        ]

    def missing(self) -> list[str]:
        """Names in ``include`` and ``exclude`` that the source does not offer (now)."""
        offered = {t.name for t in self.inner.tools()}
        return sorted(((self.include or set()) | self.exclude) - offered)

    def offered(self) -> list[str]:
        """The names the inner source offers now."""
        return sorted(t.name for t in self.inner.tools())


class Prefixed(Wrapper):
    """Every tool's name with ``prefix`` before it, so two sources can share names."""

    def __init__(self, inner: ToolSource, *, prefix: str) -> None:
        super().__init__(inner)
        self.prefix = prefix

    def tools(self) -> Sequence[Tool]:
        return [replace(t, name=self.prefix + t.name) for t in self.inner.tools()]


def wrap(
    source: ToolSource,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    prefix: str = "",
) -> ToolSource:
    """The source with a manifest entry's filters and prefix around it."""
    if include is not None or exclude:
        source = Filtered(source, include=include, exclude=exclude)
    if prefix:
        source = Prefixed(source, prefix=prefix)
    return source


def union(sources: Iterable[ToolSource], *, warned: set[tuple[str, str]], hint: str) -> list[Tool]:
    """Every tool of ``sources``; of two with one name, the earlier source's is kept.

    The one left out is logged once per (name, source), with ``hint`` saying how
    to keep both.
    """
    seen: dict[str, Tool] = {}
    for source in sources:
        for tool in source.tools():
            if tool.name not in seen:
                seen[tool.name] = tool
                continue
            key = (tool.name, source.name)
            if key not in warned:
                warned.add(key)
                log.warning(
                    "tool %r of %s is left out: %s has one of that name (%s)",
                    tool.name,
                    source.name,
                    seen[tool.name].source or "another source",
                    hint,
                )
    return list(seen.values())


class ToolSet:
    """Every tool source of a jar, opened together; ``tools()`` is the union now.

    Sources open concurrently, so one slow MCP server does not hold up the rest.
    When two sources offer the same name, the one listed first keeps it and the
    other's tool is left out with a warning (use ``prefix`` to keep both).
    """

    def __init__(self, sources: Sequence[ToolSource], *, name: str = "toolset") -> None:
        self.sources = list(sources)
        self._name = name
        self._stack: AsyncExitStack | None = None
        self._warned: set[tuple[str, str]] = set()
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
        """Every tool offered now, first source first."""
        return union(self.sources, warned=self._warned, hint="give one of them a prefix")

    def get(self, name: str) -> Tool | None:
        """The tool of that name offered now, if any."""
        return next((t for t in self.tools() if t.name == name), None)
