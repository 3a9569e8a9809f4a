"""Wrappers around tool sources, and the set of all of a jar's tools.

Filtering and prefixing wrap a source; they are not flags inside it. The
``ToolSet`` opens every source and answers, at any moment, the tools offered now.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from types import TracebackType
from typing import Self

from ._tool import Tool
from .protocols import ToolSource

__all__ = ["Filtered", "Prefixed", "StaticSource", "ToolSet", "wrap"]

log = logging.getLogger("brainjar.tools")


class StaticSource:
    """A fixed list of tools, e.g. made in Python."""

    def __init__(self, tools: Sequence[Tool], *, name: str = "python") -> None:
        self._tools = list(tools)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _Wrapper:
    def __init__(self, inner: ToolSource) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def tools(self) -> Sequence[Tool]:
        return self.inner.tools()

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


class Filtered(_Wrapper):
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
        """Names in ``include`` that the source does not offer (now)."""
        offered = {t.name for t in self.inner.tools()}
        return sorted((self.include or set()) - offered)


class Prefixed(_Wrapper):
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
    """The source with the manifest's filters and prefix around it."""
    if include is not None or exclude:
        source = Filtered(source, include=include, exclude=exclude)
    if prefix:
        source = Prefixed(source, prefix=prefix)
    return source


class ToolSet:
    """Every tool source of a jar, opened together; ``tools()`` is the union now.

    When two sources offer the same name, the one listed first keeps it and the
    other's tool is left out with a warning (use ``prefix`` to keep both).
    """

    def __init__(self, sources: Sequence[ToolSource]) -> None:
        self.sources = list(sources)
        self._stack: AsyncExitStack | None = None
        self._warned: set[tuple[str, str]] = set()

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            for source in self.sources:
                await stack.enter_async_context(source)
            self._stack = stack.pop_all()
        return self

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
        seen: dict[str, Tool] = {}
        for source in self.sources:
            for tool in source.tools():
                if tool.name in seen:
                    key = (tool.name, source.name)
                    if key not in self._warned:
                        self._warned.add(key)
                        log.warning(
                            "tool %r of %s is left out: %s has one of that name "
                            "(give one of them a prefix)",
                            tool.name,
                            source.name,
                            seen[tool.name].source or "another source",
                        )
                    continue
                seen[tool.name] = tool
        return list(seen.values())

    def get(self, name: str) -> Tool | None:
        """The tool of that name offered now, if any."""
        return next((t for t in self.tools() if t.name == name), None)
