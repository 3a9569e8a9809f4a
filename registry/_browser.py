"""Browsing mDNS/DNS-SD for ``_brainjar._tcp.local.``: sightings into the registry.

Every record on the network is untrusted input. ``read_record`` turns one into a
``Sighting`` or says why not, checking each value we use against a strict
pattern; ``browse`` logs and skips a record it cannot read, whatever went wrong,
so one malformed or hostile announcement never ends the browse.

One name may have several SRV targets: anyone can answer for any name. ``browse``
reports a sighting for every target any answer gave (``_targets.Targets``), each
with the TXT record that goes with it, so that an impostor that answers first, or
louder, never hides the real service: the registry judges the rows, oldest first.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Mapping, Sequence

import anyio
from anyio.abc import TaskStatus
from zeroconf import ServiceStateChange, Zeroconf, current_time_millis
from zeroconf._services.info import AddressResolver
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo
from zeroconf.const import _CLASS_IN, _TYPE_PTR

from ._announce import LABEL_PREFIX, SERVICE_TYPE
from ._interfaces import open_zeroconf, resolve_interfaces
from ._table import MCP_PATH, Sighting
from ._targets import MAX_NAMES, Targets, text_for

__all__ = ["browse", "parse_record", "read_record"]

log = logging.getLogger("brainjar.registry")

# Limit on resolving one service's SRV, TXT and address records, in seconds.
RESOLVE_TIMEOUT = 3.0
# Browser events waiting to be resolved; beyond this a flood is dropped (and logged).
EVENT_BUFFER = 1024
# Limit on closing zeroconf.
CLOSE_TIMEOUT = 5.0

# What each TXT value we use must look like (whole value, ASCII digits only:
# ``str.isdigit`` also accepts "²" and "٣", which ``int`` refuses or misreads).
PORT = re.compile(r"[0-9]{1,5}")
DIGEST = re.compile(r"[0-9a-fA-F]{0,128}")
VERSION = re.compile(r"[A-Za-z0-9._-]{1,16}")
LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}")
# Bounds on what one announcement may carry.
MAX_LABELS = 64
MAX_LABEL_VALUE = 255
MAX_INSTANCE_BYTES = 63  # RFC 6763 4.1.1


def _port(text: str, key: str) -> int | str:
    if not PORT.fullmatch(text) or not 0 < int(text) < 65536:
        return f"{key}={text!r} is not a port (1-65535)"
    return int(text)


def _instance(name: str) -> str:
    """The instance part of a service name, or "" when it is not one of ours."""
    suffix = "." + SERVICE_TYPE
    if not isinstance(name, str) or not name.endswith(suffix):
        return ""
    return name[: -len(suffix)]


def _instance_problem(instance: str) -> str | None:
    if not instance:
        return f"the name is not <instance>.{SERVICE_TYPE}"
    if not instance.isprintable():
        return "the instance name has control characters"
    if len(instance.encode("utf-8", errors="replace")) > MAX_INSTANCE_BYTES:
        return f"the instance name is longer than {MAX_INSTANCE_BYTES} bytes"
    return None


def _address(addresses: Sequence[str]) -> str | None:
    """The first usable address, IPv4 before IPv6."""
    usable: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for text in addresses:
        try:
            ip = ipaddress.ip_address(text)
        except (TypeError, ValueError):
            continue
        if not (ip.is_unspecified or ip.is_multicast):
            usable.append(ip)
    usable.sort(key=lambda ip: ip.version)
    return str(usable[0]) if usable else None


def _text(properties: Mapping[bytes, bytes | None]) -> dict[str, str] | str:
    """The TXT entries we read, decoded; or why they cannot be."""
    props: dict[str, str] = {}
    for raw_key, raw_value in properties.items():
        try:
            key = raw_key.decode("ascii")
        except (AttributeError, UnicodeDecodeError):
            continue  # not a key of ours (they are all ASCII): ignored
        if key not in ("grpc", "mcp", "mcppath", "tls", "digest", "v") and not key.startswith(
            LABEL_PREFIX
        ):
            continue
        if not isinstance(raw_value, bytes):
            return f"{key!r} has no value"
        try:
            props[key] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            return f"the value of {key!r} is not UTF-8"
    return props


def _labels(props: Mapping[str, str]) -> dict[str, str] | str:
    labels = {k[len(LABEL_PREFIX) :]: v for k, v in props.items() if k.startswith(LABEL_PREFIX)}
    if len(labels) > MAX_LABELS:
        return f"more than {MAX_LABELS} labels"
    for key, value in labels.items():
        if not LABEL_KEY.fullmatch(key):
            return f"label {LABEL_PREFIX + key!r}: a key is like team or app.kubernetes.io/name"
        if len(value) > MAX_LABEL_VALUE or not value.isprintable():
            return (
                f"label {LABEL_PREFIX + key!r}: the value is longer than {MAX_LABEL_VALUE} "
                "or has control characters"
            )
    return labels


def read_record(
    name: str,
    properties: Mapping[bytes, bytes | None],
    addresses: Sequence[str],
    port: int | None,
) -> Sighting | str:
    """A sighting from one service's records, or the reason it is not one.

    Args:
        name: the service name, ``<instance>._brainjar._tcp.local.``.
        properties: the TXT record, as zeroconf gives it.
        addresses: the A/AAAA addresses, as text.
        port: the SRV port (the gRPC port when the TXT record names none).
    """
    instance = _instance(name)
    problem = _instance_problem(instance)
    if problem is not None:
        return problem
    host = _address(addresses)
    if host is None:
        return "no usable address"
    props = _text(properties)
    if isinstance(props, str):
        return props
    if "grpc" in props:
        grpc_port = _port(props["grpc"], "grpc")
    elif isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        grpc_port = port
    else:
        grpc_port = f"no grpc port in the TXT record and SRV port {port!r}"
    if isinstance(grpc_port, str):
        return grpc_port
    mcp_port = _port(props["mcp"], "mcp") if "mcp" in props else None
    if isinstance(mcp_port, str):
        return mcp_port
    mcp_path = props.get("mcppath", "/mcp")
    if not MCP_PATH.fullmatch(mcp_path):
        return f"mcppath={mcp_path!r} is not a plain path like /mcp"
    tls = props.get("tls", "0")
    if tls not in ("0", "1"):
        return f"tls={tls!r} is not 0 or 1"
    digest = props.get("digest", "")
    if not DIGEST.fullmatch(digest):
        return f"digest={digest!r} is not hexadecimal"
    version = props.get("v", "")
    if "v" in props and not VERSION.fullmatch(version):
        return f"v={version!r} is not a protocol version"
    labels = _labels(props)
    if isinstance(labels, str):
        return labels
    return Sighting(
        key=f"mdns:{instance}",
        origin="mdns",
        host=host,
        port=grpc_port,
        instance=instance,
        mcp_port=mcp_port,
        mcp_path=mcp_path,
        tls=tls == "1",
        digest=digest,
        labels=labels,
        version=version,
    )


def parse_record(
    name: str,
    properties: Mapping[bytes, bytes | None],
    addresses: Sequence[str],
    port: int | None,
) -> Sighting | None:
    """``read_record``, with the reason for a refused record logged; never raises."""
    try:
        found = read_record(name, properties, addresses, port)
    except Exception:  # a bug in reading must cost one record, not the browse
        log.exception("could not read the mDNS record %r; it is ignored", name)
        return None
    if isinstance(found, str):
        log.info("ignoring the mDNS record %r: %s", name, found)
        return None
    return found


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
