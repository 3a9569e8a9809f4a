"""One mDNS/DNS-SD record of ``_brainjar._tcp.local.`` read into a ``Sighting``.

Every record on the network is untrusted input. ``read_record`` turns one into a
``Sighting`` or says why not, checking each value we use against a strict
pattern; ``parse_record`` logs the reason and never raises, so that one malformed
or hostile announcement costs that record, never the browse (``_browser.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence

from ._announce import LABEL_PREFIX, SERVICE_TYPE
from ._table import MCP_PATH, Sighting

__all__ = ["parse_record", "read_record"]

log = logging.getLogger("brainjar.registry")

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
