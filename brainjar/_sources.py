"""From manifest tool entries to opened-able tool sources.

Each adapter is imported only when a manifest uses it, so a jar of LangChain
tools never pays for gRPC or zeroconf.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._manifest import DiscoverTools, LangChainTools, McpTools, ToolEntry
from ._toolset import wrap
from .protocols import ToolSource

__all__ = ["build_source", "build_sources"]


def build_source(entry: ToolEntry, *, base_dir: Path | None = None) -> ToolSource:
    """The tool source one manifest entry describes, with its filters and prefix.

    Args:
        entry: the manifest's tool entry.
        base_dir: the manifest's folder; LangChain modules there can be imported.
    """
    source: ToolSource
    if isinstance(entry, LangChainTools):
        from brainjar.adapters.langchain import LangChainSource

        search = str(base_dir) if base_dir is not None else None
        source = LangChainSource(entry.langchain, kwargs=entry.with_, search_path=search)
    elif isinstance(entry, McpTools):
        from brainjar.adapters.mcp import source_from_manifest as mcp_source

        source = mcp_source(entry.mcp)
    elif isinstance(entry, DiscoverTools):
        from brainjar.registry import source_from_manifest as discover_source

        source = discover_source(entry.discover)
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown tool entry {entry!r}")
    return wrap(source, include=entry.include, exclude=entry.exclude, prefix=entry.prefix)


def build_sources(
    entries: Sequence[ToolEntry], *, base_dir: Path | None = None
) -> list[ToolSource]:
    """A source for each entry, in manifest order."""
    return [build_source(e, base_dir=base_dir) for e in entries]
