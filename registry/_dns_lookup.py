"""DNS SRV lookups: what a name's records say now (targets, addresses, name claims, TTL).

A Kubernetes headless Service with a port named ``grpc`` has the SRV records
``_grpc._tcp.<service>.<namespace>.svc.cluster.local``, one per ready pod; any
DNS server with SRV records works the same way. The name a record claims for
trust purposes is the ``name=`` value of a TXT record at the SRV *target*
(``name=clerk``), when there is one. The target's first label is not read as a
name: Kubernetes names targets after pods (``10-244-1-5.tools...``,
``tools-0.tools...``), never after the service. Following the records over time
is ``_dns.DnsFeed``'s part.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from brainjar._errors import DiscoveryError

from ._table import Sighting, parse_address

__all__ = [
    "MAX_TTL",
    "MIN_TTL",
    "NEGATIVE_TTL",
    "DnsSettings",
    "dns_resolver",
    "lookup",
    "srv_names",
]

log = logging.getLogger("brainjar.registry")

# Bounds on how long a lookup's answer is kept: records are asked for again after
# their TTL, but never sooner than MIN_TTL (a TTL of 0 would be a busy loop) nor
# later than MAX_TTL (a day-long TTL would hide a moved service for a day).
MIN_TTL = 1.0
MAX_TTL = 300.0
# When a name has no records (NXDOMAIN, or no SRV records): asked for again after this.
NEGATIVE_TTL = 5.0
# Limit on one query (every server tried).
QUERY_TIMEOUT = 3.0
# SRV targets used from one answer; more are logged and left out.
MAX_TARGETS = 64
# The DNS port when ``server`` names none.
DNS_PORT = 53
# The instance name a TXT record may claim (as an mDNS instance: RFC 6763 4.1.1).
MAX_INSTANCE_BYTES = 63
# ``_<port name>._tcp.<domain>``: the gRPC records; the MCP ones are ``_mcp._tcp.<domain>``.
SRV_NAME = re.compile(r"_([A-Za-z0-9-]{1,63})\._tcp\.([A-Za-z0-9_.-]{1,240}?)\.?")


@dataclass(frozen=True, kw_only=True)
class DnsSettings:
    """Where the SRV records of the tool services are.

    Attributes:
        name: the SRV name of the services' gRPC ports, e.g.
            ``_grpc._tcp.tools.default.svc.cluster.local``, or several (one per
            Kubernetes Service), kept as a tuple. With transport ``mcp``,
            ``_mcp._tcp.<the same domain>`` is read too, for the MCP ports.
        server: ``ip`` or ``ip:port`` of the DNS server to ask; None: the system's
            resolver (``/etc/resolv.conf``).
    """

    name: str | Sequence[str]
    server: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):  # a list from YAML or a command line: hashable
            object.__setattr__(self, "name", tuple(self.name))

    @property
    def names(self) -> tuple[str, ...]:
        """Every SRV name, in the order given."""
        return (self.name,) if isinstance(self.name, str) else tuple(self.name)


def srv_names(
    settings: DnsSettings, transport: Literal["grpc", "mcp"]
) -> list[tuple[str, str | None]]:
    """The SRV names to read: per name, the gRPC one, and the MCP one for transport ``mcp``.

    Raises:
        DiscoveryError: there is no name, or one is not ``_<port>._tcp.<domain>``, or
            names the MCP records.
    """
    if not settings.names:
        raise DiscoveryError(
            "dns.name lists no names; give at least one, "
            "e.g. _grpc._tcp.tools.default.svc.cluster.local"
        )
    pairs: list[tuple[str, str | None]] = []
    for name in settings.names:
        match = SRV_NAME.fullmatch(name)
        if match is None:
            raise DiscoveryError(
                f"dns.name {name!r} is not an SRV name; write _<port name>._tcp.<domain>, "
                "e.g. _grpc._tcp.tools.default.svc.cluster.local"
            )
        port_name, domain = match.groups()
        if port_name == "mcp":
            raise DiscoveryError(
                f"dns.name {name!r} names the MCP ports; write the gRPC ones "
                f"(_grpc._tcp.{domain}): services are checked over gRPC, and with transport: "
                f"mcp _mcp._tcp.{domain} is read as well"
            )
        mcp = f"_mcp._tcp.{domain}." if transport == "mcp" else None
        pair = (f"_{port_name}._tcp.{domain}.", mcp)
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def dns_resolver(settings: DnsSettings) -> dns.asyncresolver.Resolver:
    """A resolver that asks ``settings.server``, or the system's servers.

    Raises:
        DiscoveryError: the server is not an IP address (and port), or the system
            has no resolver configuration.
    """
    if settings.server is None:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.exception.DNSException as exc:
            raise DiscoveryError(
                f"cannot read the system's DNS configuration ({exc}); give the discover "
                "entry's dns a server, e.g. server: 10.96.0.10:53"
            ) from None
    else:
        text = settings.server.strip()
        host, port = text.strip("[]"), DNS_PORT
        if text.count(":") == 1 or text.startswith("["):
            try:
                host, port = parse_address(text, where="dns.server")
            except ValueError as exc:
                raise DiscoveryError(str(exc)) from None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DiscoveryError(
                f"dns.server {settings.server!r} is not an IP address; write ip or ip:port, "
                "e.g. 10.96.0.10 or 127.0.0.1:5353"
            ) from None
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = QUERY_TIMEOUT
    resolver.timeout = QUERY_TIMEOUT
    return resolver


async def _records(
    resolver: dns.asyncresolver.Resolver, name: str, rdtype: dns.rdatatype.RdataType
) -> tuple[list[Any], float | None]:
    """The records of one type at a name, and their TTL; ``([], None)`` when it has none.

    Raises:
        dns.exception.DNSException: the lookup failed (not: the name has no such records).
    """
    try:
        answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return [], None
    if answer.rrset is None:
        return [], None
    return list(answer.rrset), float(answer.rrset.ttl)


def _claimed_name(txt: Sequence[Any], target: str) -> str | Literal[False] | None:
    """The ``name=`` a target's TXT records claim; None: none; False: one that is unusable."""
    for record in txt:
        for raw in record.strings:
            key, sep, value = bytes(raw).partition(b"=")
            if key.lower() != b"name" or not sep:
                continue
            try:
                name = value.decode("utf-8")
            except UnicodeDecodeError:
                log.warning("%s: the TXT name= is not UTF-8; the record is left out", target)
                return False
            if not name or not name.isprintable() or len(value) > MAX_INSTANCE_BYTES:
                log.warning(
                    "%s: the TXT name=%r is not an instance name (printable, 1-%d bytes); "
                    "the record is left out",
                    target,
                    name,
                    MAX_INSTANCE_BYTES,
                )
                return False
            return name
    return None


async def _address(
    resolver: dns.asyncresolver.Resolver, target: str, ttls: list[float]
) -> str | None:
    """The target's first address, IPv4 before IPv6."""
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        found, ttl = await _records(resolver, target, rdtype)
        if found:
            ttls.append(ttl or MIN_TTL)
            return str(found[0].address)
    return None


async def lookup(
    resolver: dns.asyncresolver.Resolver, grpc_name: str, mcp_name: str | None
) -> tuple[list[Sighting], float]:
    """The services the SRV records name now, in priority order, and how long that holds.

    Raises:
        dns.exception.DNSException: a query failed.
    """
    srv, ttl = await _records(resolver, grpc_name, dns.rdatatype.SRV)
    if not srv:
        return [], NEGATIVE_TTL
    ttls = [ttl or MIN_TTL]
    mcp_ports: dict[str, int] = {}
    if mcp_name is not None:
        mcp_srv, mcp_ttl = await _records(resolver, mcp_name, dns.rdatatype.SRV)
        if mcp_ttl is not None:
            ttls.append(mcp_ttl)
        for record in sorted(mcp_srv, key=lambda r: (r.priority, -r.weight)):
            mcp_ports.setdefault(record.target.to_text(omit_final_dot=True).lower(), record.port)
    records = sorted(srv, key=lambda r: (r.priority, -r.weight, r.target.to_text(), r.port))
    usable = [r for r in records if r.target != dns.name.root and r.port]
    if len(usable) > MAX_TARGETS:
        log.warning(
            "%s has %d SRV records; the first %d are used", grpc_name, len(usable), MAX_TARGETS
        )
    found: dict[str, Sighting] = {}
    for record in usable[:MAX_TARGETS]:
        target = record.target.to_text(omit_final_dot=True).lower()
        key = f"dns:{target}:{record.port}"
        if key in found:
            continue
        host = await _address(resolver, target, ttls)
        if host is None:
            log.warning("%s (in %s) has no address; left out", target, grpc_name)
            continue
        txt, txt_ttl = await _records(resolver, target, dns.rdatatype.TXT)
        if txt_ttl is not None:
            ttls.append(txt_ttl)
        instance = _claimed_name(txt, target)
        if instance is False:
            continue
        found[key] = Sighting(
            key=key,
            origin="dns",
            host=host,
            port=record.port,
            instance=instance,
            mcp_port=mcp_ports.get(target),
        )
    return list(found.values()), min(max(min(ttls), MIN_TTL), MAX_TTL)
