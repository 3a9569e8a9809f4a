"""Browsing mDNS/DNS-SD for ``_brainjar._tcp.local.``: sightings into the registry.

Every record on the network is untrusted input: ``_record.py`` reads one into a
``Sighting`` or says why not; ``browse`` logs and skips a record it cannot read,
whatever went wrong, so one malformed or hostile announcement never ends the browse.

One name may have several SRV targets: anyone can answer for any name. ``browse``
reports a sighting for every target any answer gave (``_targets.Targets``), each
with the TXT record that goes with it, so that an impostor that answers first, or
louder, never hides the real service: the registry judges the rows, oldest first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import anyio
from anyio.abc import TaskStatus
from zeroconf import ServiceStateChange, Zeroconf, current_time_millis
from zeroconf._services.info import AddressResolver
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo
from zeroconf.const import _CLASS_IN, _TYPE_PTR

from ._announce import SERVICE_TYPE
from ._interfaces import open_zeroconf, resolve_interfaces
from ._record import _instance, parse_record, read_record
from ._table import Sighting
from ._targets import MAX_NAMES, Targets, text_for

__all__ = ["browse", "parse_record", "read_record"]

log = logging.getLogger("brainjar.registry")

# Limit on resolving one service's SRV, TXT and address records, in seconds.
RESOLVE_TIMEOUT = 3.0
# Browser events waiting to be resolved; beyond this a flood is dropped (and logged).
EVENT_BUFFER = 1024
# Limit on closing zeroconf.
CLOSE_TIMEOUT = 5.0


def _forget(zc: Zeroconf, name: str) -> None:
    """Drops a service's pointer, SRV and TXT records from zeroconf's cache."""
    cache = zc.cache
    pointers = cache.async_all_by_details(SERVICE_TYPE, _TYPE_PTR, _CLASS_IN)
    stale = [p for p in pointers if getattr(p, "alias", "").lower() == name.lower()]
    cache.async_remove_records([*stale, *cache.async_entries_with_name(name)])


class Requery:
    """What the registry may ask of a running browse (``task_status.started`` gives it).

    Calling it with a key (``requery(key)``), for a service that was dropped without
    a goodbye (it stopped answering): its records are forgotten and the network is
    asked for it again. A service that restarts with the very same records (same
    name, host and port) announces nothing zeroconf sees as new, so without this
    it would never be seen again. ``forget(sighting)``: that one target stopped
    answering; it is not reported again until it is announced anew.
    """

    def __init__(self, requery: Callable[[str], None], forget: Callable[[Sighting], None]):
        self._requery = requery
        self.forget = forget

    def __call__(self, key: str) -> None:
        self._requery(key)


async def browse(
    seen: Callable[[Sighting], None],
    gone: Callable[[str], None],
    *,
    interfaces: Sequence[str] | None = None,
    task_status: TaskStatus[Requery] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Browses until cancelled, calling ``seen`` and ``gone`` as services come and go.

    Once browsing, it reports (``task_status.started``) a ``Requery``, for the
    registry to ask for a service again, or to forget one target of it.

    Args:
        seen: gets each resolved sighting (new or changed).
        gone: gets the key of a service that said goodbye.
        interfaces: where to listen; default loopback only.
    """
    where = resolve_interfaces(interfaces)
    send, receive = anyio.create_memory_object_stream[tuple[str, ServiceStateChange]](EVENT_BUFFER)

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        try:
            send.send_nowait((name, state_change))
        except anyio.WouldBlock:
            log.warning("too many mDNS events; dropped one for %r", name)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the browse is closing

    async def resolve(name: str) -> None:
        try:
            info = AsyncServiceInfo(SERVICE_TYPE, name)
            resolved = await info.async_request(zc.zeroconf, int(RESOLVE_TIMEOUT * 1000))
            now = current_time_millis()
            found = targets.targets(name, now)
            if resolved and info.server and info.port:
                found = list(dict.fromkeys([*found, (info.server.lower(), info.port)]))
            if not found:
                log.info("could not resolve %r within %ss", name, RESOLVE_TIMEOUT)
                return
            texts = targets.texts(name, now)
            if resolved and info.text:
                texts.append(info.text)
            for server, port in found:
                text = text_for(port, texts, alone=len(found) == 1)
                tg.start_soon(report, name, server, port, text)
        except Exception:  # whatever a record does, the browse goes on
            log.warning("skipped the mDNS record %r: it could not be read", name, exc_info=True)

    async def report(name: str, server: str, port: int, text: Mapping[bytes, bytes | None]) -> None:
        try:
            host = AddressResolver(server)
            await host.async_request(zc.zeroconf, int(RESOLVE_TIMEOUT * 1000))
            sighting = parse_record(name, text, host.parsed_addresses(), port)
            if sighting is not None:
                if len(reported) < MAX_NAMES:
                    reported[(name.lower(), sighting.host, port)] = server
                seen(sighting)
        except Exception:
            log.warning("skipped the mDNS record %r: it could not be read", name, exc_info=True)

    def unreport(name: str) -> None:
        targets.forget(name)
        for key in [k for k in reported if k[0] == name.lower()]:
            del reported[key]

    def left(name: str) -> None:
        try:
            unreport(name)
            instance = _instance(name)
            if instance:
                gone(f"mdns:{instance}")
        except Exception:
            log.warning("skipped the goodbye of %r", name, exc_info=True)

    def requery(key: str) -> None:
        instance = key.removeprefix("mdns:") if key.startswith("mdns:") else ""
        if not instance:
            return
        name = f"{instance}.{SERVICE_TYPE}"
        _forget(zc.zeroconf, name)
        unreport(name)
        # Resolving a name with nothing cached asks the network; once forgotten,
        # the service's next announcement is new to the browser (an "added" event).
        on_change(zc.zeroconf, SERVICE_TYPE, name, ServiceStateChange.Added)

    def forget(sighting: Sighting) -> None:
        if sighting.origin == "mdns" and sighting.instance:
            name = f"{sighting.instance}.{SERVICE_TYPE}".lower()
            server = reported.pop((name, sighting.host, sighting.port), None)
            if server is not None:
                targets.drop(name, (server, sighting.port))

    def new_target(key: str) -> None:
        on_change(zc.zeroconf, SERVICE_TYPE, names.get(key, key), ServiceStateChange.Updated)

    names: dict[str, str] = {}  # lower case to as announced
    reported: dict[tuple[str, str, int], str] = {}  # (name, address, port) to its SRV target
    targets = Targets(new_target)
    zc = await open_zeroconf(where)
    browser: AsyncServiceBrowser | None = None
    try:
        # Before the browser, so that no answer to its first question is missed.
        zc.zeroconf.async_add_listener(targets, None)
        browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
        task_status.started(Requery(requery, forget))
        async with anyio.create_task_group() as tg, receive:
            async for name, change in receive:
                if change is ServiceStateChange.Removed:
                    left(name)
                else:
                    if len(names) < MAX_NAMES or name.lower() in names:
                        names[name.lower()] = name
                    targets.follow(name)
                    tg.start_soon(resolve, name)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
            zc.zeroconf.async_remove_listener(targets)
            if browser is not None:
                await browser.async_cancel()
            await zc.async_close()
        send.close()
