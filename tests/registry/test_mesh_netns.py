"""Two hosts on a wire: a tool service in one network namespace, a jar's discover
source in another, joined by a veth pair. mDNS runs only on the addresses of that
wire, which this test makes and removes itself (never the machine's interfaces)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mesh_support import TOOLS_MODULE

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("ip") is None,
        reason="network namespaces need root and iproute2 (apt-get install iproute2)",
    ),
]

# Starting serve-tools (imports, mDNS probing) and discovering it, on a busy machine.
LIMIT = 60

DISCOVER = """
import json, sys, anyio
from brainjar.registry import DiscoverSettings
from brainjar.registry import DiscoverSource

async def main(uid, address):
    config = DiscoverSettings(selector={"mesh": uid}, interfaces=[address])
    async with DiscoverSource(config, health_interval=0.3, health_failures=2) as source:
        with anyio.fail_after(40):
            while not any(t.name == "echo" for t in source.tools()):
                await anyio.sleep(0.05)
        echo = next(t for t in source.tools() if t.name == "echo")
        result = await echo.call({"text": "across the wire"})
        print(json.dumps({"content": result.content, "source": echo.source}), flush=True)

anyio.run(main, sys.argv[1], sys.argv[2])
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def wire() -> Iterator[tuple[str, str, str, str]]:
    """Two namespaces and a veth pair between them: (svc ns, svc address, jar ns, jar address)."""
    tag = uuid.uuid4().hex[:6]
    svc, jar = f"bjs-{tag}", f"bjj-{tag}"
    net = random.randint(1, 254)
    svc_addr, jar_addr = f"10.231.{net}.1", f"10.231.{net}.2"
    try:
        _ip("netns", "add", svc)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot make a network namespace here: {exc.stderr.decode().strip()}")
    try:
        _ip("netns", "add", jar)
        _ip("link", "add", f"vs{tag}", "type", "veth", "peer", "name", f"vj{tag}")
        for ns, dev, addr in ((svc, f"vs{tag}", svc_addr), (jar, f"vj{tag}", jar_addr)):
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        yield svc, svc_addr, jar, jar_addr
    finally:
        for ns in (svc, jar):  # deleting a namespace deletes its end of the veth
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def test_a_service_on_another_host_is_discovered_and_called(
    tmp_path: Path, wire: tuple[str, str, str, str]
) -> None:
    svc, svc_addr, jar, jar_addr = wire
    uid = uuid.uuid4().hex[:8]
    (tmp_path / "mesh_tools.py").write_text(TOOLS_MODULE)
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: ToolService
            metadata: {{name: far-{uid}, labels: {{mesh: "{uid}"}}}}
            spec:
              tools:
                - langchain: mesh_tools:echo
              host: {svc_addr}
              stop_grace: 2s
              announce: {{interfaces: [{svc_addr}]}}
        """)
    )
    service = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            svc,
            sys.executable,
            "-m",
            "brainjar",
            "serve-tools",
            str(manifest),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None
        for line in service.stdout:
            if json.loads(line).get("type") == "ready":
                break
        else:
            pytest.fail(
                f"serve-tools did not start: {service.stderr.read() if service.stderr else ''}"
            )
        found = subprocess.run(
            ["ip", "netns", "exec", jar, sys.executable, "-c", DISCOVER, uid, jar_addr],
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout.splitlines()[-1])
        assert result["content"] == "across the wire"
        assert result["source"].startswith(f"grpc:far-{uid}@{svc_addr}:")
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        for stream in (service.stdout, service.stderr):
            if stream:
                stream.close()
