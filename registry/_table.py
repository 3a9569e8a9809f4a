"""The rows of the live table: where a service was seen, and what brainjar made of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc
from brainjar.adapters.grpc import Description

__all__ = ["MCP_PATH", "Service", "Sighting", "Status", "parse_address"]

Status = Literal["checking", "ok", "unselected", "refused", "duplicate", "unreachable"]

# The MCP path a service may announce: a plain absolute path, so that no
# announcement can turn ``http://host:port`` + path into another host or port
# (``@evil:80/mcp``, ``:9/x``, ``?``, ``#``, ``%``, spaces are all refused).
MCP_PATH = re.compile(r"/[A-Za-z0-9._~/-]{0,200}")


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """An address hint: a service seen by mDNS, named by DNS SRV, listed statically or in a file.

    Nothing in it is trusted; admission asks the service itself.

    Attributes:
        key: where it was seen, unique in the table: ``mdns:<instance>``,
            ``static:<host>:<port>``, ``file:<host>:<port>``, ``dns:<target>:<port>``.
        origin: ``mdns``, ``dns``, ``static`` or ``file``.
        host: the address to connect to.
        port: the gRPC port.
        instance: the name it was announced under (mDNS; DNS: a TXT ``name=``).
    """

    key: str
    origin: Literal["mdns", "dns", "static", "file"]
    host: str
    port: int
    instance: str | None = None
    mcp_port: int | None = None
    mcp_path: str = "/mcp"
    tls: bool = False
    digest: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    version: str = ""

    def __post_init__(self) -> None:
        # The parsers refuse such values with a reason; this is the last line.
        for port in (self.port, self.mcp_port):
            if port is not None and not (isinstance(port, int) and 0 < port < 65536):
                raise ValueError(f"{self.key}: port {port!r} is not in 1-65535")
        if not MCP_PATH.fullmatch(self.mcp_path):
            raise ValueError(f"{self.key}: MCP path {self.mcp_path!r} is not a plain path")

    @property
    def target(self) -> str:
        """``host:port`` of the gRPC service (``[v6]:port`` for IPv6)."""
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    @property
    def ident(self) -> str:
        """The row this sighting feeds: one per key *and* address, so that a second
        address claiming a name is a row of its own, never a change of the first."""
        return f"{self.key}@{self.target}{'+tls' if self.tls else ''}"


@dataclass(kw_only=True)
class Service:
    """One row of the table.

    Attributes:
        sighting: where it was seen.
        status: ``ok`` (used), ``unselected`` (trusted, labels do not match),
            ``refused`` (failed a trust check), ``duplicate`` (served by another
            row), ``unreachable``, or ``checking``.
        reason: why it is not ``ok``, for people.
        description: what the service said about itself, once it answered.
        trust: why its tools may be used, or not: ``proven`` (it proved it knows
            the token, and every answer carries its MAC), ``unproven (allow list
            only)``, ``unproven (no token)``, ``refused: <why>``, or ``-`` (not
            judged yet).
        order: when the row was made; the first of two claims on a name keeps it.
        channel: the one channel the proof is checked on and the tools are called on.
    """

    sighting: Sighting
    status: Status = "checking"
    reason: str = ""
    description: Description | None = None
    trust: str = "-"
    failures: int = 0
    order: int = 0
    channel: grpc.aio.Channel | None = field(default=None, repr=False)

    @property
    def ident(self) -> str:
        """The row's identity in the table (see ``Sighting.ident``)."""
        return self.sighting.ident

    @property
    def name(self) -> str:
        """The instance name: what was announced, else what the service says.

        The announced name comes first, so that an impostor refused for claiming
        another's name is shown under its own announcement, not the name it claimed.
        """
        if self.sighting.instance:
            return self.sighting.instance
        if self.description is not None:
            return str(self.description.instance)
        return self.sighting.target

    @property
    def labels(self) -> dict[str, str]:
        """The labels the service gave, else those announced."""
        return dict(self.description.labels if self.description else self.sighting.labels)

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (``brainjar discover --json``)."""
        d = self.description
        ports = dict(d.ports) if d else {"grpc": self.sighting.port}
        if d is None and self.sighting.mcp_port:
            ports["mcp"] = self.sighting.mcp_port
        return {
            "name": self.name,
            "origin": self.sighting.origin,
            "address": self.sighting.host,
            "ports": ports,
            "labels": self.labels,
            "digest": d.digest if d else self.sighting.digest,
            "tls": self.sighting.tls,
            "token": d.token_required if d else None,
            "status": self.status,
            "trust": self.trust,
            "reason": self.reason,
        }


def parse_address(text: str, *, where: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) as a pair.

    Raises:
        ValueError: naming ``where`` and what to write instead.
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    valid = port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536
    if not sep or not host or not valid:
        raise ValueError(f"{where}: {text!r} is not host:port, e.g. 192.168.1.20:50051")
    return host, int(port)
