"""From manifest tool entries to tool sources, built from plain parameters.

Each adapter is imported only when a manifest uses it, so a jar of LangChain
tools never pays for gRPC or zeroconf.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from brainjar.manifest import (
    DiscoverConfig,
    DiscoverTools,
    LangChainTools,
    McpServerConfig,
    McpTools,
    ToolEntry,
)
from brainjar.protocols import ToolSource
from brainjar.tools import wrap

if TYPE_CHECKING:
    from brainjar.adapters.mcp import McpServer
    from brainjar.registry import DiscoverSettings

__all__ = ["build_source", "build_sources", "discover_settings", "mcp_server"]


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
        from brainjar.adapters.mcp import McpSource

        source = McpSource(mcp_server(entry.mcp))
    elif isinstance(entry, DiscoverTools):
        from brainjar.registry import DiscoverSource

        source = DiscoverSource(discover_settings(entry.discover))
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown tool entry {entry!r}")
    return wrap(source, include=entry.include, exclude=entry.exclude, prefix=entry.prefix)


def build_sources(
    entries: Sequence[ToolEntry], *, base_dir: Path | None = None
) -> list[ToolSource]:
    """A source for each entry, in manifest order."""
    return [build_source(e, base_dir=base_dir) for e in entries]


def mcp_server(config: McpServerConfig) -> McpServer:
    """The MCP adapter's parameters for a manifest's ``mcp:`` entry."""
    from brainjar.adapters.mcp import McpServer

    return McpServer(**config.model_dump())


def discover_settings(config: DiscoverConfig) -> DiscoverSettings:
    """The registry's parameters for a manifest's ``discover:`` entry.

    mDNS is browsed on ``config.interfaces``, by default loopback only
    (``127.0.0.1``): a jar sees its network's services only when told where.
    """
    from brainjar.registry import DiscoverSettings

    return DiscoverSettings(**config.model_dump())
