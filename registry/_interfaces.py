"""Where mDNS runs: addresses, interface names, or ``all``; loopback unless asked.

The default is loopback (``127.0.0.1``) for both announcing and browsing, so
that nothing a machine runs is shown to its network until the manifest or the
command line says where (``interfaces: [eth0]``, ``[192.168.1.20]`` or ``[all]``).

Loopback means loopback for what comes in, too. zeroconf cannot listen on
127.0.0.1 alone: it reads multicast on a socket bound to ``0.0.0.0:5353`` (a
socket bound to 127.0.0.1 never gets packets sent to 224.0.0.251), and that
socket also gets any host's unicast answers to port 5353, which zeroconf puts in
its cache like any other. So ``open_zeroconf`` closes it twice over: the
wildcard socket is bound to the loopback device (``SO_BINDTODEVICE``, where the
kernel allows it), and every reading socket's protocol is wrapped in a filter
that drops each datagram whose source is not a loopback address before zeroconf
parses it. The cache is emptied once the filter is in place, for whatever came
in while the sockets were opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any

import ifaddr
from zeroconf import InterfaceChoice
from zeroconf.asyncio import AsyncZeroconf

from brainjar._errors import DiscoveryError

__all__ = ["DEFAULT_INTERFACES", "Interfaces", "open_zeroconf", "resolve_interfaces"]

log = logging.getLogger("brainjar.registry")

DEFAULT_INTERFACES = ("127.0.0.1",)
# Limit on zeroconf opening its sockets.
START_TIMEOUT = 10.0
# Distinct foreign sources a loopback zeroconf logs (once each); the rest are dropped quietly.
LOGGED_SOURCES = 16


class Interfaces:
    """What zeroconf is given, and the IPv4 addresses a service is announced at."""

    def __init__(self, choice: InterfaceChoice | list[str], addresses: list[str]) -> None:
        self.choice = choice
        self.addresses = addresses

    def __repr__(self) -> str:
        return f"Interfaces({self.addresses})"

    @property
    def loopback(self) -> bool:
        """Whether mDNS runs on loopback addresses only (nothing from the network)."""
        if not isinstance(self.choice, list) or not self.addresses:
            return False
        return all(ipaddress.ip_address(a).is_loopback for a in self.addresses)


def _ipv4_by_adapter() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.setdefault(adapter.nice_name, []).append(ip.ip)
    return found


def resolve_interfaces(names: Sequence[str] | None) -> Interfaces:
    """Turns a manifest's ``interfaces`` into zeroconf's terms.

    Raises:
        DiscoveryError: a name is neither an address nor an interface here.
    """
    wanted = list(names) if names else list(DEFAULT_INTERFACES)
    by_adapter = _ipv4_by_adapter()
    if "all" in wanted:
        every = [ip for ips in by_adapter.values() for ip in ips]
        return Interfaces(InterfaceChoice.All, every)
    addresses: list[str] = []
    for name in wanted:
        try:
            addresses.append(str(ipaddress.IPv4Address(name)))
            continue
        except ValueError:
            pass
        if name not in by_adapter:
            known = ", ".join(sorted(by_adapter)) or "none"
            raise DiscoveryError(
                f"no network interface {name!r} here; use an address, one of {known}, or all"
            )
        addresses.extend(by_adapter[name])
    unique = list(dict.fromkeys(addresses))
    return Interfaces(list(unique), unique)


def _is_loopback(address: object) -> bool:
    if not isinstance(address, str):
        return False
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class _LoopbackOnly(asyncio.DatagramProtocol):
    """zeroconf's listener behind a filter: datagrams from other hosts never reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.logged: set[str] = set()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = addr[0] if addr else None
        if _is_loopback(source):
            self.inner.datagram_received(data, addr)
        elif len(self.logged) < LOGGED_SOURCES and str(source) not in self.logged:
            self.logged.add(str(source))
            log.info(  # a LAN's own chatter lands here too: worth a note, not a warning
                "ignored an mDNS packet from %s: mDNS runs on loopback only here "
                "(set interfaces to browse or announce on a network)",
                source,
            )

    def error_received(self, exc: Exception) -> None:
        self.inner.error_received(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


def _loopback_device() -> str:
    for adapter in ifaddr.get_adapters():
        if any(isinstance(ip.ip, str) and ip.ip.startswith("127.") for ip in adapter.ips):
            return str(adapter.name)
    return "lo"


def _bind_to_loopback(sock: socket.socket | None) -> None:
    """Best effort: the wildcard socket gets only what arrives on the loopback device."""
    option = getattr(socket, "SO_BINDTODEVICE", None)
    if sock is None or option is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, option, _loopback_device().encode())
    except OSError as exc:  # not permitted here: the source filter alone keeps others out
        log.debug("cannot bind the mDNS socket to the loopback device: %s", exc)


async def open_zeroconf(where: Interfaces) -> AsyncZeroconf:
    """zeroconf on ``where``; on loopback, deaf to every other host.

    The caller closes it (``await zc.async_close()``).

    Raises:
        DiscoveryError: zeroconf did not start, or its sockets cannot be filtered.
    """
    zc = AsyncZeroconf(interfaces=where.choice)
    if not where.loopback:
        return zc
    try:
        engine = zc.zeroconf.engine
        # Before the engine's setup task runs (it has not yet: nothing awaited since).
        _bind_to_loopback(getattr(engine, "_listen_socket", None))
        await zc.zeroconf.async_wait_for_start(timeout=START_TIMEOUT)
        for reader in engine.readers:
            transport = reader.transport
            if not hasattr(transport, "set_protocol"):
                raise DiscoveryError(
                    f"cannot keep mDNS to loopback: {type(transport).__name__} takes no filter; "
                    "use the default asyncio event loop"
                )
            transport.set_protocol(_LoopbackOnly(transport.get_protocol()))
        cache = zc.zeroconf.cache
        cache.async_remove_records(
            [record for records in list(cache.cache.values()) for record in list(records)]
        )
    except BaseException:
        await zc.async_close()
        raise
    return zc
