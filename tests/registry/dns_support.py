"""Helpers for the DNS SRV tests: dnsmasq on loopback and tool services it names.

``Dnsmasq`` runs on a free port of 127.0.0.1 with the records a test writes
(``srv-host``, ``host-record``, ``txt-record``; TTL 1 s). dnsmasq reads
``srv-host`` lines only at start, so a record that changes is a restart on the
same port with the new records. ``tool_services`` runs real ``brainjar
serve-tools`` processes, not announced on mDNS, for the records to point at.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import dns.asyncresolver
import dns.exception
import dns.resolver
import pytest
from anyio.abc import Process
from mesh_support import ServiceProcess, eventually
from process_support import ended

# Limit on dnsmasq answering its first query, and on it stopping.
DNS_READY = 20.0
DNS_STOP = 10.0
# Limit on serve-tools processes, started at once, all being ready (on a busy machine).
SERVICES_START = 90.0
# Limit on a conversation with the scripted model.
ASK_LIMIT = 60.0

DOMAIN = "default.svc.cluster.local"
TOOLS = "_grpc._tcp.tools." + DOMAIN

TOOLS_MODULE = '''
from langchain_core.tools import tool


@tool
def alpha(text: str) -> str:
    """Says alpha, then the text."""
    return "alpha: " + text


@tool
def beta(text: str) -> str:
    """Says beta, then the text."""
    return "beta: " + text
'''


def _dnsmasq() -> str:
    found = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail("dnsmasq is not installed: run tests/system_packages.sh (dnsmasq-base)")
    return found


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def srv(name: str, target: str, port: int, *, address: str = "127.0.0.1", claim: str = "") -> str:
    """dnsmasq lines: an SRV record at ``name`` for ``target:port``, its address, a TXT name=."""
    lines = [f"srv-host={name},{target},{port},0,10", f"host-record={target},{address}"]
    if claim:
        lines.append(f'txt-record={target},"name={claim}"')
    return "\n".join(lines) + "\n"


class Dnsmasq:
    """dnsmasq on 127.0.0.1:``port``, answering for ``cluster.local`` from a config file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: Process | None = None
        self.starts = 0

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, records: str) -> None:
        self.starts += 1
        config = self.folder / f"dnsmasq-{self.starts}.conf"
        # local=: names under cluster.local that are not listed are NXDOMAIN, not REFUSED.
        config.write_text("local=/cluster.local/\n" + records)
        command = [
            _dnsmasq(),
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--local-ttl=1",
            f"--conf-file={config}",
            f"--pid-file={self.folder / 'dnsmasq.pid'}",
        ]
        log = self.folder / f"dnsmasq-{self.starts}.log"
        with log.open("wb") as out:
            self.process = await anyio.open_process(command, stdout=out, stderr=out)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], self.port, 1.0

        async def answers() -> bool:
            try:
                await resolver.resolve("nothing.cluster.local", "A", raise_on_no_answer=False)
            except dns.resolver.NXDOMAIN:
                return True
            except dns.exception.DNSException:
                return False
            return True

        with anyio.fail_after(DNS_READY):
            while not await answers():
                assert self.process.returncode is None, log.read_text()
                await anyio.sleep(0.05)

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        await ended(process, grace=DNS_STOP)

    async def restart(self, records: str) -> None:
        await self.stop()
        await self.start(records)


@asynccontextmanager
async def dnsmasq(folder: Path, records: str) -> AsyncIterator[Dnsmasq]:
    server = Dnsmasq(folder)
    await server.start(records)
    try:
        yield server
    finally:
        await server.stop()


def write_service(
    folder: Path, name: str, tools: Sequence[str], *, uid: str, token: bool = False
) -> Path:
    """A ToolService manifest that is not announced by mDNS: DNS is all that names it."""
    (folder / "dns_tools.py").write_text(TOOLS_MODULE)
    entries = "".join(f"    - langchain: dns_tools:{tool}\n" for tool in tools)
    manifest = folder / f"{name}.yaml"
    manifest.write_text(
        "apiVersion: brainjar.dev/v1\n"
        "kind: ToolService\n"
        f"metadata: {{name: {name}, labels: {{mesh: {uid}}}}}\n"
        "spec:\n"
        "  tools:\n"
        f"{entries}"
        "  stop_grace: 1s\n"
        "  announce: {enabled: false}\n" + ("  token: ${DNS_TOKEN}\n" if token else "")
    )
    return manifest


@asynccontextmanager
async def tool_services(
    *manifests: Path, env: dict[str, str] | None = None
) -> AsyncIterator[list[ServiceProcess]]:
    """Runs ``brainjar serve-tools --json`` for each manifest, all started at once."""
    services: list[ServiceProcess] = []
    try:
        async with anyio.create_task_group() as tg:
            for manifest in manifests:
                command = [sys.executable, "-m", "brainjar", "serve-tools", str(manifest), "--json"]
                environment = {**os.environ, **(env or {})}
                process = await anyio.open_process(command, env=environment, stderr=None)
                services.append(ServiceProcess(process))
                tg.start_soon(services[-1].read)
            for s in services:
                await eventually(
                    lambda s=s: s.event("ready") is not None or s.process.returncode is not None,
                    limit=SERVICES_START,
                )
                assert s.event("ready"), f"serve-tools did not start: {s.events}"
            yield services
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            for s in services:
                if s.process.returncode is None:
                    s.process.kill()
                await s.process.wait()
                await s.process.aclose()


def new_uid() -> str:
    """A label value no other test's services carry."""
    return "d" + uuid.uuid4().hex[:8]
