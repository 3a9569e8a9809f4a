"""The rows of the live table: where a service was seen, and what brainjar made of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import grpc
from brainjar.adapters.grpc import Description

__all__ = ["Service", "Sighting", "Status", "parse_address"]

Status = Literal["checking", "ok", "unselected", "refused", "duplicate", "unreachable"]


@dataclass(frozen=True, kw_only=True)
class Sighting:
    """An address hint: a service seen by mDNS, listed statically or in a file.

    Nothing in it is trusted; admission asks the service itself.

    Attributes:
        key: where it was seen, unique in the table: ``mdns:<instance>``,
            ``static:<host>:<port>``, ``file:<host>:<port>``.
        origin: ``mdns``, ``static`` or ``file``.
        host: the address to connect to.
        port: the gRPC port.
        instance: the name it was announced under (mDNS only).
    """

    key: str
    origin: Literal["mdns", "static", "file"]
    host: str
    port: int
    instance: str | None = None
    mcp_port: int | None = None
    mcp_path: str = "/mcp"
    tls: bool = False
    digest: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    version: str = ""

    @property
    def target(self) -> str:
        """``host:port`` of the gRPC service."""
        return f"{self.host}:{self.port}"


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
    """

    sighting: Sighting
    status: Status = "checking"
    reason: str = ""
    description: Description | None = None
    failures: int = 0
    channel: grpc.aio.Channel | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The instance name: what the service says, else what was announced."""
        if self.description is not None:
            return str(self.description.instance)
        return self.sighting.instance or self.sighting.target

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
            "reason": self.reason,
        }


def parse_address(text: str, *, where: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) as a pair.

    Raises:
        ValueError: naming ``where`` and what to write instead.
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{where}: {text!r} is not host:port, e.g. 192.168.1.20:50051")
    return host, int(port)
