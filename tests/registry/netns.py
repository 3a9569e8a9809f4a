"""Two hosts on a wire, for mDNS tests that must not touch the machine's network.

A test gets two network namespaces joined by a veth pair, each end with an IPv4
address, loopback up and a multicast route; it runs processes "on" a host with
``host.command(...)``. Everything is removed when the ``with`` block ends.

Usage::

    from netns import NETNS, two_hosts, stop

    pytestmark = NETNS

    def test_something() -> None:
        with two_hosts() as (server, client):
            proc = subprocess.Popen(server.command(sys.executable, "-c", CODE, server.address))
            try:
                ...
            finally:
                stop(proc)

The namespaces need root and iproute2; ``NETNS`` skips the module without them,
and ``two_hosts`` skips the test when the kernel refuses to make a namespace.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from process_support import ended_popen

__all__ = ["NETNS", "Host", "stop", "two_hosts"]

# Marks for a module of netns tests: ``pytestmark = NETNS``.
NETNS = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="network namespaces need root and iproute2 (apt-get install iproute2)",
    ),
]

# Limit on one `ip` command, and on a stopped process's exit.
IP_TIMEOUT = 30
STOP_TIMEOUT = 20


@dataclass(frozen=True)
class Host:
    """One end of the wire.

    Attributes:
        namespace: the network namespace's name.
        address: its IPv4 address on the wire (a /24 shared with the other host).
        device: its end of the veth pair.
        more: further addresses of it on the wire (``two_hosts(more=...)``).
    """

    namespace: str
    address: str
    device: str
    more: tuple[str, ...] = ()

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host's namespace (for ``subprocess``)."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=IP_TIMEOUT)


@contextmanager
def two_hosts(*, more: int = 0) -> Iterator[tuple[Host, Host]]:
    """Two namespaces joined by a veth pair, removed afterwards.

    Args:
        more: further addresses for the first host (``10.<n>.<m>.3`` on), e.g. for
            a real service and an impostor on one LAN, each at its own address.

    Yields:
        ``(first, second)``, at ``10.<n>.<m>.1`` and ``10.<n>.<m>.2``. Each host
        has ``lo`` up and a route for 224.0.0.0/4 on its veth, so mDNS works
        on the wire (and on loopback inside each namespace).
    """
    tag = uuid.uuid4().hex[:6]
    names = (f"bj1-{tag}", f"bj2-{tag}")
    devices = (f"v1{tag}", f"v2{tag}")
    net = f"10.{random.randint(200, 250)}.{random.randint(1, 254)}"
    extra = tuple(f"{net}.{i}" for i in range(3, 3 + more))
    hosts = tuple(
        Host(namespace=ns, address=f"{net}.{i}", device=dev, more=extra if i == 1 else ())
        for i, (ns, dev) in enumerate(zip(names, devices, strict=True), start=1)
    )
    try:
        _ip("netns", "add", names[0])
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.decode().strip()}")
    try:
        _ip("netns", "add", names[1])
        _ip("link", "add", devices[0], "type", "veth", "peer", "name", devices[1])
        for host in hosts:
            _ip("link", "set", host.device, "netns", host.namespace)
            for address in (host.address, *host.more):
                _ip("-n", host.namespace, "addr", "add", f"{address}/24", "dev", host.device)
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            _ip("-n", host.namespace, "link", "set", host.device, "up", "multicast", "on")
            _ip("-n", host.namespace, "route", "add", "224.0.0.0/4", "dev", host.device)
        yield hosts[0], hosts[1]
    finally:
        for ns in names:  # deleting a namespace deletes its end of the veth
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=IP_TIMEOUT)


def stop(process: subprocess.Popen[str]) -> None:
    """Terminates ``process`` (SIGKILL if it lingers), waits for it, closes its pipes."""
    ended_popen(process, grace=STOP_TIMEOUT)
