"""Reading mDNS records: every value checked, no record able to raise out of the browser."""

from __future__ import annotations

import io
import logging
import uuid
from functools import partial

import anyio
import httpx
import pytest
from brainjar.adapters.grpc import Description
from brainjar.registry import (
    SERVICE_TYPE,
    Policy,
    Registry,
    Service,
    Sighting,
    browse,
    txt_properties,
)
from brainjar.registry._browser import parse_record, read_record
from brainjar.registry._table import MCP_PATH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mesh_support import eventually

NAME = f"svc.{SERVICE_TYPE}"
GOOD = {b"v": b"1", b"grpc": b"50051", b"mcp": b"8931", b"digest": b"0a1b2c", b"tls": b"0"}
OURS = [b"grpc", b"mcp", b"mcppath", b"tls", b"digest", b"v", b"auth", b"l.mesh", b"l."]
TRICKY = [
    "²".encode(),
    "٣".encode(),
    b"0",
    b"65536",
    b"99999999999999999999",
    b"-1",
    b"+80",
    b" 80",
    b"80\n",
    b"@127.0.0.1:9/mcp",
    b"/mcp",
    b"\xff\xfe",
    b"",
]


def _txt(props: dict[str, str]) -> dict[bytes, bytes | None]:
    """A TXT record as zeroconf hands it over."""
    return {k.encode(): v.encode() for k, v in props.items()}


def test_a_good_record_is_read() -> None:
    props = txt_properties(
        version="1",
        ports={"grpc": 50051, "mcp": 8931},
        digest="0123456789abcdef",
        labels={"team": "docs", "app.kubernetes.io/name": "clerk"},
        mcp_path="/api/mcp",
    )
    sighting = read_record(NAME, _txt(props), ["fe80::1", "192.168.1.20"], 50051)
    assert sighting == Sighting(
        key="mdns:svc",
        origin="mdns",
        host="192.168.1.20",
        port=50051,
        instance="svc",
        mcp_port=8931,
        mcp_path="/api/mcp",
        digest="0123456789abcdef",
        labels={"team": "docs", "app.kubernetes.io/name": "clerk"},
        version="1",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (b"grpc", "²".encode()),  # str.isdigit says yes, int says no
        (b"grpc", "٣".encode()),  # an Arabic-Indic three: int reads 3
        (b"grpc", b"0"),
        (b"grpc", b"65536"),
        (b"grpc", b""),
        (b"grpc", None),
        (b"mcp", "¹".encode()),
        (b"mcp", b"70000"),
        (b"mcppath", b"@127.0.0.1:9/mcp"),
        (b"mcppath", b"mcp"),
        (b"mcppath", b"/mcp?next=http://evil"),
        (b"mcppath", b"/mcp#x"),
        (b"mcppath", b"/%2e%2e/mcp"),
        (b"mcppath", b"/mcp\n"),
        (b"mcppath", b"/" + b"a" * 201),
        (b"digest", b"not-hex"),
        (b"tls", b"yes"),
        (b"v", b"1\x1b[31m"),
        (b"l.team", b"docs\x1b[2J"),
        (b"l.team", b"x" * 256),
        (b"l.te am", b"docs"),
        (b"l.", b"docs"),
        (b"l.team", b"\xff\xfe"),
    ],
)
def test_a_malformed_value_refuses_the_record_with_a_reason(
    key: bytes, value: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="brainjar.registry")
    assert parse_record(NAME, {**GOOD, key: value}, ["127.0.0.1"], 50051) is None
    assert key.decode() in caplog.text, caplog.text
    assert "ignoring the mDNS record 'svc." in caplog.text


@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        ("svc._other._tcp.local.", ["127.0.0.1"]),
        (SERVICE_TYPE, ["127.0.0.1"]),
        (f"\x1b[2Jsvc.{SERVICE_TYPE}", ["127.0.0.1"]),
        (f"{'x' * 64}.{SERVICE_TYPE}", ["127.0.0.1"]),
        (NAME, []),
        (NAME, ["not an address", "0.0.0.0", "224.0.0.251"]),
    ],
)
def test_a_bad_name_or_address_refuses_the_record(name: str, addresses: list[str]) -> None:
    assert isinstance(read_record(name, GOOD, addresses, 50051), str)


def test_the_srv_port_stands_in_for_a_missing_grpc_entry() -> None:
    props = {k: v for k, v in GOOD.items() if k != b"grpc"}
    found = read_record(NAME, props, ["127.0.0.1"], 50052)
    assert isinstance(found, Sighting) and found.port == 50052
    assert isinstance(read_record(NAME, props, ["127.0.0.1"], 0), str)
    assert isinstance(read_record(NAME, props, ["127.0.0.1"], None), str)


def test_a_sighting_refuses_a_path_that_leaves_the_host() -> None:
    with pytest.raises(ValueError, match="not a plain path"):
        Sighting(key="k", origin="static", host="10.0.0.1", port=1, mcp_path="@evil:80/mcp")
    with pytest.raises(ValueError, match="not in 1-65535"):
        Sighting(key="k", origin="static", host="10.0.0.1", port=70000)


_keys = st.one_of(
    st.sampled_from(OURS), st.binary(max_size=12), st.text(max_size=8).map(str.encode)
)
_values = st.one_of(
    st.none(),
    st.sampled_from(TRICKY),
    st.binary(max_size=260),
    st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(-5, 70000).map(lambda n: str(n).encode()),
)
_names = st.one_of(
    st.text(max_size=80),
    st.text(max_size=70).map(lambda t: f"{t}.{SERVICE_TYPE}"),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).map(lambda t: f"{t}.{SERVICE_TYPE}"),
)
_addresses = st.one_of(
    st.lists(st.one_of(st.ip_addresses().map(str), st.text(max_size=20)), max_size=4),
    st.lists(st.ip_addresses().map(str), min_size=1, max_size=2),
)
_ports = st.one_of(st.none(), st.integers(-(2**40), 2**40), st.integers(1, 65535))
# Arbitrary entries over nothing, or over a good record (so that many records get far).
_properties = st.builds(
    lambda base, extra: {**base, **extra},
    st.sampled_from([{}, GOOD, {**GOOD, b"mcppath": b"/api/mcp", b"l.team": b"docs"}]),
    st.dictionaries(_keys, _values, max_size=12),
)


# CPU work, not waiting: a loaded machine may take minutes for it.
@pytest.mark.timeout(900)
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_names,
    properties=_properties,
    addresses=_addresses,
    port=_ports,
)
def test_no_record_raises(
    name: str, properties: dict[bytes, bytes | None], addresses: list[str], port: int | None
) -> None:
    found = read_record(name, properties, addresses, port)
    if isinstance(found, str):
        return
    assert 0 < found.port < 65536
    assert found.mcp_port is None or 0 < found.mcp_port < 65536
    assert MCP_PATH.fullmatch(found.mcp_path)
    assert all(v.isprintable() for v in found.labels.values())
    if found.mcp_port is not None:
        # The path an announcement chose never moves the MCP request elsewhere.
        host = f"[{found.host}]" if ":" in found.host else found.host
        url = httpx.URL(f"http://{host}:{found.mcp_port}{found.mcp_path}")
        assert (url.host, url.port, url.path) == (found.host, found.mcp_port, found.mcp_path)


async def test_the_browser_outlives_a_malformed_announcement_on_loopback() -> None:
    """The crash of the report: one ``grpc=²`` record ended every browse on the machine."""
    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

    uid = uuid.uuid4().hex[:8]
    bad = {"v": "1", "grpc": "²", "l.mesh": uid}
    good = {"v": "1", "grpc": "50051", "l.mesh": uid}
    infos = [
        ServiceInfo(
            SERVICE_TYPE,
            f"{name}-{uid}.{SERVICE_TYPE}",
            port=50051,
            properties=props,
            parsed_addresses=["127.0.0.1"],
            server=f"{name}-{uid}.local.",
        )
        for name, props in (("bad", bad), ("good", good))
    ]
    seen: list[Sighting] = []
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(partial(browse, seen.append, lambda key: None, interfaces=["127.0.0.1"]))
            for info in infos:  # the bad one first: it is resolved first
                await (await zc.async_register_service(info))
            await eventually(lambda: any(s.instance == f"good-{uid}" for s in seen))
            assert not any(s.instance == f"bad-{uid}" for s in seen)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await zc.async_close()


def test_hostile_names_are_shown_as_text_not_markup() -> None:
    """A name like ``[/x]`` ended ``brainjar discover`` with a rich MarkupError."""
    from rich.console import Console

    from brainjar.cli._discover import _table

    registry = Registry(Policy())
    name = "[/x][red]evil"
    registry.seen(
        Sighting(
            key=f"mdns:{name}",
            origin="mdns",
            host="127.0.0.1",
            port=1,
            instance=name,
            labels={"team": "[bold]docs"},
        )
    )
    console = Console(file=io.StringIO(), width=300)
    console.print(_table(registry))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert name in shown and "team=[bold]docs" in shown, shown


def test_an_impostor_is_shown_under_its_announced_name() -> None:
    sighting = Sighting(key="mdns:evil", origin="mdns", host="127.0.0.1", port=1, instance="evil")
    claimed = Description(
        instance="real",
        labels={},
        ports={"grpc": 1},
        digest="",
        version="1",
        token_required=False,
        proven=False,
    )
    row = Service(sighting=sighting, status="refused", reason="spoofed", description=claimed)
    assert row.name == "evil"
    assert row.as_dict()["name"] == "evil"
