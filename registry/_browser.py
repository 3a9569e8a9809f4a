"""Browsing mDNS/DNS-SD for ``_brainjar._tcp.local.``: sightings into the registry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import anyio
from anyio.abc import TaskStatus
from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from ._announce import LABEL_PREFIX, SERVICE_TYPE
from ._interfaces import resolve_interfaces
from ._table import Sighting

__all__ = ["browse", "sighting_from_info"]

log = logging.getLogger("brainjar.registry")

# Limit on resolving one service's SRV, TXT and address records, in seconds.
RESOLVE_TIMEOUT = 3.0
# Browser events waiting to be resolved; beyond this a flood is dropped (and logged).
EVENT_BUFFER = 1024
# Limit on closing zeroconf.
CLOSE_TIMEOUT = 5.0


def sighting_from_info(info: AsyncServiceInfo) -> Sighting | None:
    """A sighting from resolved records, or None when they say too little."""
    instance = info.name.removesuffix("." + SERVICE_TYPE)
    addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
    props = {
        k.decode(errors="replace"): (v or b"").decode(errors="replace")
        for k, v in (info.properties or {}).items()
    }
    port = props.get("grpc", "")
    if not addresses or not port.isdigit():
        log.info("ignoring %r: no address or no grpc port in its announcement", instance)
        return None
    mcp = props.get("mcp", "")
    return Sighting(
        key=f"mdns:{instance}",
        origin="mdns",
        host=addresses[0],
        port=int(port),
        instance=instance,
        mcp_port=int(mcp) if mcp.isdigit() else None,
        mcp_path=props.get("mcppath", "/mcp"),
        tls=props.get("tls") == "1",
        digest=props.get("digest", ""),
        labels={k[len(LABEL_PREFIX) :]: v for k, v in props.items() if k.startswith(LABEL_PREFIX)},
        version=props.get("v", ""),
    )


async def browse(
    seen: Callable[[Sighting], None],
    gone: Callable[[str], None],
    *,
    interfaces: Sequence[str] | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Browses until cancelled, calling ``seen`` and ``gone`` as services come and go.

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
            log.warning("too many mDNS events; dropped one for %s", name)

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(zc.zeroconf, int(RESOLVE_TIMEOUT * 1000)):
            log.info("could not resolve %s within %ss", name, RESOLVE_TIMEOUT)
            return
        sighting = sighting_from_info(info)
        if sighting is not None:
            seen(sighting)

    zc = AsyncZeroconf(interfaces=where.choice)
    browser: AsyncServiceBrowser | None = None
    try:
        browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
        task_status.started()
        async with anyio.create_task_group() as tg, receive:
            async for name, change in receive:
                if change is ServiceStateChange.Removed:
                    gone(f"mdns:{name.removesuffix('.' + SERVICE_TYPE)}")
                else:
                    tg.start_soon(resolve, name)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
            if browser is not None:
                await browser.async_cancel()
            await zc.async_close()
        send.close()
