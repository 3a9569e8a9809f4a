"""Which host names and addresses mean this machine (standard library only)."""

from __future__ import annotations

import functools
import ipaddress

__all__ = ["LOOPBACK_NAMES", "is_loopback"]

# Host names that always mean this machine (RFC 6761 reserves ``localhost``).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


@functools.lru_cache(maxsize=1024)  # every request's Host is checked; few hosts repeat
def is_loopback(host: str) -> bool:
    """True for a loopback name or IP (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
