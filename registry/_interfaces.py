"""Where mDNS runs: addresses, interface names, or ``all``; loopback unless asked.

The default is loopback (``127.0.0.1``) for both announcing and browsing, so
that nothing a machine runs is shown to its network until the manifest or the
command line says where (``interfaces: [eth0]``, ``[192.168.1.20]`` or ``[all]``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import ifaddr
from zeroconf import InterfaceChoice

from brainjar._errors import DiscoveryError

__all__ = ["DEFAULT_INTERFACES", "Interfaces", "resolve_interfaces"]

DEFAULT_INTERFACES = ("127.0.0.1",)


class Interfaces:
    """What zeroconf is given, and the IPv4 addresses a service is announced at."""

    def __init__(self, choice: InterfaceChoice | list[str], addresses: list[str]) -> None:
        self.choice = choice
        self.addresses = addresses

    def __repr__(self) -> str:
        return f"Interfaces({self.addresses})"


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
