"""``brainjar discover``: the live table, on a terminal or as JSON snapshots.

Services come from mDNS, DNS SRV records (``--dns``), static entries and a file,
as a jar's ``discover`` entry finds them, through the same trust rules.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from brainjar.registry import (
    SERVICE_TYPE,
    DiscoverSettings,
    DnsSettings,
    Registry,
    policy_from_config,
    start_feeds,
)

from ._common import EXIT_USAGE, _fail

__all__ = ["discover", "dns_settings"]

# Terminal refreshes per second.
REFRESH = 4


def snapshot(registry: Registry) -> list[dict[str, Any]]:
    """The table as JSON-ready rows."""
    return [row.as_dict() for row in registry.services()]


def dns_settings(names: Sequence[str] | None, *, server: str | None) -> DnsSettings | None:
    """``--dns NAME... [--server HOST:PORT]`` as settings, checked before anything starts.

    Raises:
        typer.Exit: (status 2) a name is not an SRV name, the server is not an
            address, or ``--server`` comes without ``--dns``.
    """
    from brainjar._errors import DiscoveryError
    from brainjar.registry._dns_lookup import dns_resolver, srv_names

    if not names:
        if server is not None:
            raise _fail(
                "--server names the DNS server for --dns; add --dns NAME, "
                "e.g. --dns _grpc._tcp.tools.default.svc.cluster.local",
                EXIT_USAGE,
            )
        return None
    settings = DnsSettings(name=tuple(names), server=server)
    try:
        srv_names(settings, "grpc")
        dns_resolver(settings)
    except DiscoveryError as exc:
        raise _fail(f"--dns/--server: {exc}", EXIT_USAGE) from None
    return settings


def _sources(config: DiscoverSettings | None) -> str:
    """Where the table's rows come from, for its title; None: mDNS."""
    mdns = str(SERVICE_TYPE)
    if config is None:
        return mdns
    found = [mdns] if config.multicast else []
    if config.dns is not None:
        found += [f"DNS {name}" for name in config.dns.names]
    if config.static or config.file is not None:
        found.append("static")
    return ", ".join(found) or "nowhere"


def _table(registry: Registry, config: DiscoverSettings | None = None) -> Any:
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
        title=f"brainjar tool services ({escape(_sources(config))})",
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
            table = _table(registry, config)
            with Live(table, console=console, refresh_per_second=REFRESH) as live:
                version = -1
                while True:
                    version = await registry.wait_changed(version)
                    live.update(_table(registry, config))
        tg.cancel_scope.cancel()
    return 0
