"""`brainjar mcp` advertises ``tools.listChanged`` on every transport, as it sends the change.

Issue 11 #6: over HTTP it said ``listChanged: false`` while sending
``notifications/tools/list_changed`` anyway. The real command, as a client
starts it: over stdio with the MCP SDK's client, and over streamable HTTP with
the fastmcp client in ``legacy`` mode (the handshake era, where capabilities
are advertised in ``initialize``).
"""

from __future__ import annotations

import os
import socket
import sys
import textwrap
from pathlib import Path
from subprocess import DEVNULL

import anyio
from fastmcp import Client as FastClient
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from process_support import ended

from brainjar.testing import ScriptedModelServer, reply

# Starting Python, the jar and its MCP server; generous for a loaded CI machine.
START_LIMIT = 60.0
# How long `brainjar mcp` has to stop once terminated.
STOP_LIMIT = 30.0
POLL = 0.05


def _manifest(tmp_path: Path, model_url: str) -> Path:
    path = tmp_path / "jar.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: herald}}
            spec:
              model: {{backend: openai, endpoint: "{model_url}", name: scripted}}
              loop: {{transcripts: false}}
            """)
    )
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _listening(port: int) -> None:
    """Polls until the port takes connections: the server is another process."""
    with anyio.fail_after(START_LIMIT):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(POLL)
                continue
            await stream.aclose()
            return


async def test_brainjar_mcp_over_stdio_advertises_list_changed(tmp_path: Path) -> None:
    async with ScriptedModelServer([reply("unused")]) as model:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "brainjar", "mcp", str(_manifest(tmp_path, model.openai_base_url))],
            env=dict(os.environ),
        )
        with anyio.fail_after(START_LIMIT):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                init = await session.initialize()
    assert init.capabilities.tools is not None
    assert init.capabilities.tools.list_changed is True


async def test_brainjar_mcp_over_http_advertises_list_changed(tmp_path: Path) -> None:
    port = _free_port()
    async with ScriptedModelServer([reply("unused")]) as model:
        manifest = _manifest(tmp_path, model.openai_base_url)
        command = [sys.executable, "-m", "brainjar", "mcp", str(manifest)]
        options = ["--transport", "http", "--port", str(port)]
        jar = await anyio.open_process(
            [*command, *options], stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL
        )
        try:
            await _listening(port)
            with anyio.fail_after(START_LIMIT):
                async with FastClient(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                    init = client.initialize_result
                    names = {t.name for t in await client.list_tools()}
        finally:
            await ended(jar, grace=STOP_LIMIT)
    assert init is not None and init.capabilities.tools is not None
    assert init.capabilities.tools.list_changed is True
    assert "ask_herald" in names
