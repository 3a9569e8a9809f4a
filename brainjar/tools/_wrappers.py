"""Wrappers around a tool source: filter, prefix, and the mark of a discovered source.

Each wraps a source and changes one thing about it; none is a flag inside a source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

from brainjar.protocols import ToolSource

from ._tool import Tool

__all__ = ["Discovered", "Filtered", "Prefixed", "Wrapper", "wrap"]


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


class Discovered(Wrapper):
    """A source of tools found on the network: in a name clash, local sources win.

    Args:
        inner: the discover entry's source (with its filters and prefix).
        prefer: the manifest's ``prefer: discovered``: this source wins instead.
    """

    def __init__(self, inner: ToolSource, *, prefer: bool = False) -> None:
        super().__init__(inner)
        self.prefer = prefer
