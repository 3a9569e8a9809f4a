"""From manifest tool entries to tool sources, built from plain parameters.

Each adapter is imported only when a manifest uses it, so a jar of LangChain
tools never pays for gRPC or zeroconf.
"""

from __future__ import annotations

import difflib
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
from brainjar.manifest._load import Origin
from brainjar.protocols import ToolSource
from brainjar.tools import Filtered, Prefixed, wrap
from brainjar.tools._toolset import Discovered

if TYPE_CHECKING:
    from brainjar.adapters.mcp import McpServer
    from brainjar.registry import DiscoverSettings

__all__ = [
    "build_source",
    "build_sources",
    "discover_settings",
    "filter_problems",
    "mcp_server",
]

# How many of a source's tool names a "names nothing" message lists.
SHOWN_NAMES = 30


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
        # Found on the network: in a name clash, local sources win unless it says otherwise.
        wrapped = wrap(source, include=entry.include, exclude=entry.exclude, prefix=entry.prefix)
        return Discovered(wrapped, prefer=entry.discover.prefer == "discovered")
    else:  # pragma: no cover - the schema admits no other kind
        raise TypeError(f"unknown tool entry {entry!r}")
    return wrap(source, include=entry.include, exclude=entry.exclude, prefix=entry.prefix)


def build_sources(
    entries: Sequence[ToolEntry], *, base_dir: Path | None = None
) -> list[ToolSource]:
    """A source for each entry, in manifest order."""
    return [build_source(e, base_dir=base_dir) for e in entries]


def filter_problems(
    entries: Sequence[ToolEntry], sources: Sequence[ToolSource], *, origin: Origin | None
) -> list[str]:
    """Each ``include``/``exclude`` name that no tool of its open source has.

    A typo in a filter would otherwise drop a tool without a word. Sources that
    offer nothing yet (an MCP server that is not up) are skipped, and so are
    ``discover`` entries, whose services come and go: a name missing there now is
    not a typo.

    Args:
        entries: the manifest's tool entries.
        sources: their sources, opened, as ``build_sources`` made them.
        origin: where the manifest is written, for ``file:line:col``.

    Returns:
        One ``file:line:col: message`` per name, with a "did you mean".
    """
    problems: list[str] = []
    for i, (entry, source) in enumerate(zip(entries, sources, strict=False)):
        inner = source.inner if isinstance(source, Prefixed) else source
        if isinstance(entry, DiscoverTools) or not isinstance(inner, Filtered):
            continue
        offered = inner.offered()
        missing = set(inner.missing())
        if not offered or not missing:
            continue
        for key, names in (("include", entry.include or []), ("exclude", entry.exclude)):
            for j, name in enumerate(names):
                if name not in missing:
                    continue
                loc = ("spec", "tools", i, key, j)
                where = origin.where(loc) if origin is not None else "manifest"
                text = f"{where}: spec.tools[{i}].{key}: {inner.name} has no tool {name!r}"
                close = difflib.get_close_matches(name, offered, n=1, cutoff=0.6)
                if close:
                    text += f"; did you mean {close[0]!r}?"
                problems.append(f"{text} It offers {_names(offered)}.")
    return problems


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def mcp_server(config: McpServerConfig) -> McpServer:
    """The MCP adapter's parameters for a manifest's ``mcp:`` entry."""
    from brainjar.adapters.mcp import McpServer

    return McpServer(**config.model_dump())


def discover_settings(config: DiscoverConfig) -> DiscoverSettings:
    """The registry's parameters for a manifest's ``discover:`` entry.

    mDNS is browsed on ``config.interfaces``, by default loopback only
    (``127.0.0.1``): a jar sees its network's services only when told where. An
    entry with ``dns`` browses no mDNS unless it says ``multicast: true``.
    """
    from brainjar.registry import DiscoverSettings, DnsSettings

    settings = config.model_dump(exclude={"prefer", "dns"})
    if config.dns is not None:
        settings["dns"] = DnsSettings(**config.dns.model_dump())
        settings["multicast"] = "multicast" in config.model_fields_set and config.multicast
    return DiscoverSettings(**settings)
