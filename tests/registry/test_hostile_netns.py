"""A hostile host on the wire: malformed announcements, real and hand-made, next to a good one.

One network namespace announces; another browses, joined by a veth pair. mDNS runs
only on the addresses of that wire, which this test makes and removes itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from netns import NETNS, Host, stop, two_hosts

pytestmark = NETNS

# Registering (mDNS probing), browsing and resolving every record, on a busy machine.
LIMIT = 60

# The hostile host: zeroconf registrations with bad TXT values, a good service
# alongside, and hand-made packets (a pointer to a name that is not ours, a TXT
# record with broken length bytes) sent again and again until it is stopped.
HOSTILE = r"""
import socket, sys, anyio
from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService, DNSText, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf
from zeroconf.const import (
    _CLASS_IN, _CLASS_UNIQUE, _FLAGS_AA, _FLAGS_QR_RESPONSE, _TYPE_A, _TYPE_PTR, _TYPE_SRV,
    _TYPE_TXT,
)

TYPE = "_brainjar._tcp.local."
ROUNDS, EVERY = 240, 0.25  # the flood is bounded: at most a minute

async def main(uid, address):
    zc = AsyncZeroconf(interfaces=[address])
    bad = {
        "sup": {"grpc": "²"},
        "path": {"grpc": "50051", "mcp": "8931", "mcppath": "@127.0.0.1:9/mcp"},
        "label": {"grpc": "50051", "l.x": b"\xff\xfe\x1b[2J"},
        "port": {"grpc": "70000"},
    }
    infos = [
        ServiceInfo(TYPE, f"{n}-{uid}.{TYPE}", port=50051,
                    properties={"v": "1", "l.mesh": uid, **props},
                    parsed_addresses=[address], server=f"{n}-{uid}.local.")
        for n, props in [*bad.items(), ("good", {"grpc": "50051"})]
    ]
    try:
        waits = [await zc.async_register_service(info) for info in infos]
        for wait in waits:
            await wait
        print("ready", flush=True)
        host = f"raw-{uid}.local."
        raw = f"raw-{uid}.{TYPE}"
        for _ in range(ROUNDS):
            out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
            for alias in (f"evil-{uid}._other._tcp.local.", raw):
                out.add_answer_at_time(DNSPointer(TYPE, _TYPE_PTR, _CLASS_IN, 120, alias), 0)
            unique = _CLASS_IN | _CLASS_UNIQUE
            out.add_answer_at_time(DNSService(raw, _TYPE_SRV, unique, 120, 0, 0, 0, host), 0)
            text = b"\xffgrpc=\xc2\xb2\x03v=1\x10l.mesh=" + uid.encode()
            out.add_answer_at_time(DNSText(raw, _TYPE_TXT, unique, 120, text), 0)
            ip = socket.inet_aton(address)
            out.add_answer_at_time(DNSAddress(host, _TYPE_A, unique, 120, ip), 0)
            zc.zeroconf.async_send(out)
            await anyio.sleep(EVERY)
    finally:
        with anyio.CancelScope(shield=True):
            await zc.async_close()

anyio.run(main, sys.argv[1], sys.argv[2])
"""

# The browsing host: the registry's own browse, until the good service is seen and
# every hostile record has been read and refused; then it reports and stops.
BROWSE = r"""
import json, logging, sys, anyio
from functools import partial
from brainjar.registry import browse

class Notes(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []
    def emit(self, record):
        self.lines.append(record.getMessage())

async def main(uid, address):
    notes = Notes()
    logger = logging.getLogger("brainjar.registry")
    logger.addHandler(notes)
    logger.setLevel(logging.INFO)
    seen = []
    hostile = [f"{n}-{uid}" for n in ("sup", "path", "label", "port", "raw", "evil")]

    def done():
        good = any(s.instance == f"good-{uid}" for s in seen)
        return good and all(any(h in line for line in notes.lines) for h in hostile)

    async with anyio.create_task_group() as tg:
        await tg.start(partial(browse, seen.append, lambda key: None, interfaces=[address]))
        with anyio.move_on_after(40):
            while not done():
                await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    print(json.dumps({
        "seen": sorted(s.instance for s in seen),
        "notes": [line for line in notes.lines if uid in line],
    }), flush=True)

anyio.run(main, sys.argv[1], sys.argv[2])
"""


def test_hostile_records_are_skipped_and_a_good_service_is_still_found() -> None:
    with two_hosts() as (bad, jar):
        _hostile_records_are_skipped(bad, jar)


def _hostile_records_are_skipped(bad: Host, jar: Host) -> None:
    uid = uuid.uuid4().hex[:8]
    hostile = subprocess.Popen(
        bad.command(sys.executable, "-c", HOSTILE, uid, bad.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert hostile.stdout is not None
        if hostile.stdout.readline().strip() != "ready":
            pytest.fail(f"the hostile announcer did not start: {hostile.communicate()[1]}")
        found = subprocess.run(
            jar.command(sys.executable, "-c", BROWSE, uid, jar.address),
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        assert found.returncode == 0, found.stderr  # the browse ended by itself: a crash
        result = json.loads(found.stdout.splitlines()[-1])
        assert result["seen"] == [f"good-{uid}"], result
        notes = "\n".join(result["notes"])
        for name, why in [
            ("sup", "grpc='²' is not a port"),
            ("path", "mcppath='@127.0.0.1:9/mcp' is not a plain path"),
            ("label", "not UTF-8"),
            ("port", "grpc='70000' is not a port"),
            ("raw", "grpc"),
            ("evil", "could not be read"),
        ]:
            assert any(f"{name}-{uid}" in line and why in line for line in result["notes"]), (
                f"{name}: {why!r} not in\n{notes}"
            )
    finally:
        stop(hostile)
