"""Tool services named by DNS SRV records: sightings into the registry, re-read on their TTL.

For clusters without multicast: each SRV name (``_dns_lookup``) is followed in
its own loop, asked again when its records' TTL runs out.

Like mDNS, DNS is an address hint, never trust: every record goes through the
registry's admission (the service answers ``Describe``; ``allow`` and the token
proof apply). A TXT ``name=`` at a record's target is the name that service must
then give, or the row is refused as spoofed or stale; without one, the service's
own name stands, as for static entries.

A lookup that fails (timeout, SERVFAIL, REFUSED) changes nothing: the services
found before stay until a lookup answers without them, so a DNS blip never drops
a working service (one that stops answering is marked unreachable by its health
check, and retried, as static entries are).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Literal, Protocol

import anyio
import dns.exception
from anyio.abc import TaskStatus

from ._dns_lookup import MAX_TTL, MIN_TTL, DnsSettings, dns_resolver, lookup, srv_names
from ._table import Sighting

__all__ = [
    "MAX_TTL",
    "MIN_TTL",
    "DnsFeed",
    "DnsSettings",
]

log = logging.getLogger("brainjar.registry")

# After a failed lookup (no answer, SERVFAIL, REFUSED): asked for again after this.
RETRY = 5.0
# Limit on one whole lookup round of one name (its SRV, address and TXT queries).
ROUND_TIMEOUT = 30.0


class Gone(Protocol):
    """``Registry.gone``: every row of ``key`` left, and why."""

    def __call__(self, key: str, *, why: str) -> None: ...


class DnsFeed:
    """Feeds a registry the services some SRV names list, each re-read on its records' TTL.

    Args:
        settings: the SRV names and the server to ask.
        transport: ``mcp`` reads the ``_mcp._tcp`` records too.

    Raises:
        DiscoveryError: a name or the server is wrong (before anything starts).
    """

    def __init__(
        self, settings: DnsSettings, *, transport: Literal["grpc", "mcp"] = "grpc"
    ) -> None:
        self.settings = settings
        # Per name: the gRPC SRV name, and the MCP one (transport mcp).
        self.names = srv_names(settings, transport)
        self.resolver = dns_resolver(settings)
        # Which names list each key now: a row goes when the last of them drops it.
        self._holders: dict[str, set[str]] = {}

    async def run(
        self,
        seen: Callable[[Sighting], None],
        gone: Gone,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Follows every name; ready once each has had its first lookup, answered or not.

        So a jar's first step sees the services DNS lists at its start. The first
        lookups run at once: a DNS server that does not answer costs one round,
        not one round per name.
        """
        async with anyio.create_task_group() as tg:
            async with anyio.create_task_group() as starting:
                for grpc_name, mcp_name in self.names:
                    follow = partial(self._follow, grpc_name, mcp_name, seen, gone)
                    starting.start_soon(tg.start, follow)
            task_status.started()

    async def _follow(
        self,
        grpc_name: str,
        mcp_name: str | None,
        seen: Callable[[Sighting], None],
        gone: Gone,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Looks one name up, reports the changes, sleeps its TTL; again."""
        current: dict[str, Sighting] = {}
        started = False
        while True:
            wait = RETRY
            fresh: list[Sighting] | None = None
            with anyio.move_on_after(ROUND_TIMEOUT) as round_scope:
                try:
                    fresh, wait = await lookup(self.resolver, grpc_name, mcp_name)
                except dns.exception.DNSException as exc:
                    log.warning(
                        "cannot look up %s (%s); keeping the %d services found before, "
                        "asking again in %gs",
                        grpc_name,
                        exc,
                        len(current),
                        RETRY,
                    )
            if round_scope.cancelled_caught:
                log.warning(
                    "looking up %s took over %gs; keeping the %d services found before, "
                    "asking again in %gs",
                    grpc_name,
                    ROUND_TIMEOUT,
                    len(current),
                    RETRY,
                )
            if fresh is not None:
                current = self._apply(grpc_name, current, fresh, seen, gone)
            if not started:
                started = True
                task_status.started()
            await anyio.sleep(wait)

    def _apply(
        self,
        grpc_name: str,
        current: dict[str, Sighting],
        fresh: list[Sighting],
        seen: Callable[[Sighting], None],
        gone: Gone,
    ) -> dict[str, Sighting]:
        new = {s.key: s for s in fresh}
        for key in current.keys() - new.keys():
            holders = self._holders.get(key, set())
            holders.discard(grpc_name)
            if not holders:  # no other name lists it either
                self._holders.pop(key, None)
                gone(key, why=f"is no longer in the SRV records of {grpc_name}")
        for key, sighting in new.items():  # in priority order: the first keeps a name
            self._holders.setdefault(key, set()).add(grpc_name)
            old = current.get(key)
            if old is not None and old.ident != sighting.ident:
                gone(key, why=f"moved to {sighting.target}")
            if old != sighting:
                seen(sighting)
        return new
