"""``brainjar discover``: the live table, on a terminal or as JSON snapshots."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio

from brainjar.registry import DiscoverSettings, Registry, policy_from_config, start_feeds

__all__ = ["discover"]

# Terminal refreshes per second.
REFRESH = 4


def snapshot(registry: Registry) -> list[dict[str, Any]]:
    """The table as JSON-ready rows."""
    return [row.as_dict() for row in registry.services()]


def _table(registry: Registry) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        "name",
        "status",
        "trust",
        "address",
        "ports",
        "labels",
        "digest",
        "why",
        title="brainjar tool services (_brainjar._tcp.local.)",
    )
    colours = {"ok": "green", "refused": "red", "unreachable": "yellow"}
    for row in snapshot(registry):
        colour = colours.get(row["status"], "dim")
        # Names, labels and reasons come from the network: shown as text, never as markup.
        table.add_row(
            escape(row["name"]),
            f"[{colour}]{row['status']}[/]",
            escape(row["trust"].partition(":")[0]),  # a refusal's reason is under "why"
            escape(f"{row['address']} ({row['origin']})"),
            escape(" ".join(f"{k}={v}" for k, v in sorted(row["ports"].items()))),
            escape(" ".join(f"{k}={v}" for k, v in sorted(row["labels"].items()))),
            escape(row["digest"][:8]),
            escape(row["reason"]),
        )
    return table


async def discover(config: DiscoverSettings, *, as_json: bool, wait: float, follow: bool) -> int:
    """Browses and shows the table.

    Args:
        config: where to look and whom to trust.
        as_json: print JSON snapshots (one line each) instead of a live table.
        wait: with ``as_json`` and not ``follow``: seconds to browse before the snapshot.
        follow: with ``as_json``: a snapshot after every change, until interrupted.
    """
    registry = Registry(policy_from_config(config))
    async with anyio.create_task_group() as tg:
        await start_feeds(registry, config, tg)
        if as_json and not follow:
            await anyio.sleep(wait)  # a browse window: how long to listen is the user's choice
            print(json.dumps(snapshot(registry)), flush=True)
        elif as_json:
            version = -1
            while True:
                version = await registry.wait_changed(version)
                print(json.dumps(snapshot(registry)), flush=True)
        else:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=sys.stdout)
            with Live(_table(registry), console=console, refresh_per_second=REFRESH) as live:
                version = -1
                while True:
                    version = await registry.wait_changed(version)
                    live.update(_table(registry))
        tg.cancel_scope.cancel()
    return 0
