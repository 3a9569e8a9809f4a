"""Two hosts on a wire: a tool service in one network namespace, a jar's discover
source in another, joined by a veth pair. mDNS runs only on the addresses of that
wire, which this test makes and removes itself (never the machine's interfaces)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from mesh_support import TOOLS_MODULE
from netns import NETNS, Host, stop, two_hosts

pytestmark = NETNS

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


def test_a_service_on_another_host_is_discovered_and_called(tmp_path: Path) -> None:
    with two_hosts() as (svc, jar):
        _discovered_and_called(tmp_path, svc, jar)


def _discovered_and_called(tmp_path: Path, svc: Host, jar: Host) -> None:
    svc_addr = svc.address
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
        svc.command(sys.executable, "-m", "brainjar", "serve-tools", str(manifest), "--json"),
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
            jar.command(sys.executable, "-c", DISCOVER, uid, jar.address),
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        assert found.returncode == 0, found.stderr
        result = json.loads(found.stdout.splitlines()[-1])
        assert result["content"] == "across the wire"
        assert result["source"].startswith(f"grpc:far-{uid}@{svc_addr}:")
    finally:
        stop(service)
