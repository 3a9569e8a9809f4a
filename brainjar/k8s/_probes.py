"""Probes, ports and the grace a pod gets: what Kubernetes asks of a brainjar container."""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "DEFAULT_PORTS",
    "GRACE_MARGIN",
    "grpc_probes",
    "http_probes",
    "port_names",
    "termination_grace",
]

# Ports for endpoints whose manifest says port 0 ("any free port"): a Service needs one.
DEFAULT_PORTS = {"openai": 8080, "ollama": 11435, "mcp": 8931, "grpc": 50051}
# Time on top of the drain grace for brainjar to close its endpoints and the model
# process after the conversations in flight have finished.
GRACE_MARGIN = 10
# How long a pod may take to start (a large model loading from a slow disk) before
# the liveness probe takes over.
STARTUP_SECONDS = 300
_STARTUP_PERIOD = 5


def termination_grace(grace: float) -> int:
    """``terminationGracePeriodSeconds``: the drain grace plus ``GRACE_MARGIN``."""
    return math.ceil(grace) + GRACE_MARGIN


def port_names(kinds: list[str]) -> list[str]:
    """One Kubernetes port name per endpoint, by kind: ``openai``, ``openai-2``, ``mcp``."""
    seen: dict[str, int] = {}
    names = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        names.append(kind if seen[kind] == 1 else f"{kind}-{seen[kind]}")
    return names


def http_probes(port: str) -> dict[str, Any]:
    """Startup and liveness on ``/healthz``, readiness on ``/readyz`` (503 while draining)."""

    def get(path: str) -> dict[str, Any]:
        return {"path": path, "port": port}

    return {
        "startupProbe": {
            "httpGet": get("/healthz"),
            "periodSeconds": _STARTUP_PERIOD,
            "failureThreshold": STARTUP_SECONDS // _STARTUP_PERIOD,
        },
        "livenessProbe": {"httpGet": get("/healthz"), "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {"httpGet": get("/readyz"), "periodSeconds": 5, "failureThreshold": 2},
    }


def grpc_probes(port: int, *, tls: bool) -> dict[str, Any]:
    """The gRPC health service (``grpc.health.v1``); a TCP check where TLS hides it."""
    check: dict[str, Any] = {"tcpSocket": {"port": "grpc"}} if tls else {"grpc": {"port": port}}
    return {
        "startupProbe": {
            **check,
            "periodSeconds": _STARTUP_PERIOD,
            "failureThreshold": STARTUP_SECONDS // _STARTUP_PERIOD,
        },
        "livenessProbe": {**check, "periodSeconds": 10, "failureThreshold": 3},
        "readinessProbe": {**check, "periodSeconds": 5, "failureThreshold": 2},
    }
