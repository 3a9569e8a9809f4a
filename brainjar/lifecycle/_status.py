"""What ``brainjar ps`` says of a jar: its status, from its process and its own readiness."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from ._store import is_running

__all__ = ["describe", "status"]

# How long `ps` waits for a jar's /readyz before it calls the jar unhealthy.
PROBE_TIMEOUT = 3.0


def status(record: dict[str, Any]) -> str:
    """starting, ready, unhealthy, stopping, or exited(code); from the jar's /readyz if it
    has an HTTP endpoint, else from the phase the jar wrote."""
    if not is_running(record):
        code = record.get("exit_code")
        return f"exited({code})" if code is not None else "exited"
    phase = str(record.get("phase", "starting"))
    if phase == "stopping":
        return phase
    http = [e for e in record.get("endpoints", []) if e["kind"] in ("openai", "ollama")]
    if not http:
        return phase
    return _probe(str(http[0]["url"]), phase)


def _probe(url: str, phase: str) -> str:
    import httpx

    parts = urlsplit(url)
    try:
        response = httpx.get(
            f"{parts.scheme}://{parts.netloc}/readyz", timeout=PROBE_TIMEOUT, trust_env=False
        )
    except httpx.HTTPError:
        return "unhealthy" if phase == "ready" else "starting"
    if response.status_code == 200:
        return "ready"
    try:
        reported = response.json().get("status")
    except ValueError:
        reported = None
    return {"draining": "stopping", "starting": "starting"}.get(str(reported), "unhealthy")


def describe(record: dict[str, Any]) -> dict[str, Any]:
    """What ``brainjar ps`` shows of one jar."""
    running = is_running(record)
    started = record.get("started", record.get("created", time.time()))
    return {
        "id": record["id"],
        "name": record.get("name"),
        "manifest": record.get("manifest"),
        "pid": record.get("pid"),
        "backend": record.get("backend"),
        "endpoints": list(record.get("endpoints", [])),
        "uptime": round(time.time() - float(started), 1) if running else None,
        "status": status(record),
    }
