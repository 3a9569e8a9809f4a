"""Name clashes between tool sources: who keeps a name, and saying so.

A local source (LangChain, MCP) keeps a name over a discovered one (found on
the network, where anyone may announce anything), unless the discover entry
says ``prefer: discovered``; between two of a kind, the one listed first keeps
it. A name a local source has offered stays its own while that source is down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from brainjar.protocols import ToolSource

from ._tool import Tool
from ._wrappers import Discovered

__all__ = ["Clash", "resolve", "union", "warn_clashes"]

log = logging.getLogger("brainjar.tools")


@dataclass(frozen=True)
class Clash:
    """Two or more sources offer one tool name; one (or none) keeps it.

    Attributes:
        name: the tool name.
        winner: the source whose tool is used ("" when none is: see ``why``).
        losers: the sources whose tools of that name are left out.
        why: how the winner was chosen, and how to keep both.
    """

    name: str
    winner: str
    losers: tuple[str, ...]
    why: str


def _rank(source: ToolSource) -> int:
    """Higher wins a clash: preferred discovered, then local, then discovered."""
    if isinstance(source, Discovered):
        return 2 if source.prefer else 0
    return 1


def _origin(tool: Tool, source: ToolSource) -> str:
    return tool.source or source.name


def resolve(
    sources: Sequence[ToolSource], *, owned: dict[str, str] | None = None
) -> tuple[list[Tool], list[Clash]]:
    """The tool kept for each name, and every clash.

    Args:
        sources: in manifest order.
        owned: tool name to the local source that has offered it; such a name
            is withheld from a discovered source (unless preferred) while its
            local source does not offer it. Updated with this round's local names.
    """
    offers: dict[str, list[tuple[int, int, Tool, ToolSource]]] = {}
    for index, source in enumerate(sources):
        for tool in source.tools():
            offers.setdefault(tool.name, []).append((-_rank(source), index, tool, source))
    kept: list[Tool] = []
    clashes: list[Clash] = []
    for name, found in offers.items():
        found.sort(key=lambda offer: offer[:2])
        _, _, tool, source = found[0]
        others = tuple(_origin(t, s) for _, _, t, s in found[1:])
        if owned is not None and _rank(source) == 1:
            owned[name] = source.name
        elif owned is not None and _rank(source) == 0 and name in owned:
            losers = tuple(_origin(t, s) for _, _, t, s in found)
            why = (
                f"{owned[name]} offered it before and does not now (down?); a discovered "
                "tool never stands in for a local one (set prefer: discovered on the "
                "discover entry to allow it)"
            )
            clashes.append(Clash(name, "", losers, why))
            continue
        kept.append(tool)
        if others:
            if _rank(source) == -found[1][0]:
                why = "give one of them a prefix"
            elif _rank(source) == 1:
                why = (
                    "local sources win over discovered ones unless the discover entry says "
                    "prefer: discovered; or give one of them a prefix"
                )
            else:
                why = "the discover entry says prefer: discovered; or give one of them a prefix"
            clashes.append(Clash(name, _origin(tool, source), others, why))
    return kept, clashes


def warn_clashes(clashes: Iterable[Clash], warned: set[Any]) -> None:
    """Logs each clash not in ``warned`` (a warning, with ``extra["event"] == "tool_clash"``)."""
    for clash in clashes:
        if clash in warned:
            continue
        warned.add(clash)
        if clash.winner:
            log.warning(
                "tool %r of %s is left out: %s has one of that name (%s)",
                clash.name,
                ", ".join(clash.losers),
                clash.winner,
                clash.why,
                extra={"event": "tool_clash", "clash": clash},
            )
        else:
            log.warning(
                "tool %r of %s is left out: %s",
                clash.name,
                ", ".join(clash.losers),
                clash.why,
                extra={"event": "tool_clash", "clash": clash},
            )


def union(sources: Iterable[ToolSource], *, warned: set[Any], hint: str) -> list[Tool]:
    """Every tool of ``sources``; of two with one name, the one ``resolve`` picks.

    Each clash is logged once, with ``hint`` saying how to keep both.
    """
    kept, clashes = resolve(list(sources))
    warn_clashes([Clash(c.name, c.winner, c.losers, hint) for c in clashes], warned)
    return kept
