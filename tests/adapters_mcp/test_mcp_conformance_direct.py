"""The official MCP conformance suite against ``brainjar mcp`` serving a jar's own tools.

No upstream MCP server here: the jar's tools are its own Python functions
(``conformance_jar/jar_tools.py``, named from ``conformance_jar/jar.yaml``), so
every answer the suite checks comes from brainjar's MCP server itself. The
gateway case (an upstream MCP server behind ``brainjar mcp``) is
``test_mcp_conformance.py``; this module shares its suite runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp_support import free_port, wait_listening
from test_mcp_conformance import NODE, SUITE, TOOLS_ONLY, _passed, _stop, _suite

from brainjar.testing import ScriptedModelServer, reply

TEST_LIMIT = 120.0
MANIFEST = Path(__file__).with_name("conformance_jar") / "jar.yaml"

# The scenarios a jar's own Python tools can answer; each must pass.
APPLICABLE = {
    "server-initialize",
    "logging-set-level",
    "ping",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",  # ToolResult.raw carries the MCP content blocks
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-error",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
    "json-schema-2020-12",  # a hand-written args_schema is kept as written, $defs and all
}
# Scenarios a jar's Python tools cannot express, and why.
NOT_APPLICABLE = {
    # A Python tool gets its arguments only: no MCP request context to send
    # notifications for the call in flight (the gateway forwards an upstream's).
    "tools-call-with-logging": "a Python tool cannot send MCP log messages",
    "tools-call-with-progress": "a Python tool cannot send MCP progress notifications",
    **TOOLS_ONLY,
    # Server-to-client requests: a Python tool has no client to ask.
    "tools-call-sampling": "a Python tool cannot ask the client to sample",
    "tools-call-elicitation": "a Python tool cannot ask the client for input",
    "elicitation-sep1034-defaults": "a Python tool cannot ask the client for input",
    "elicitation-sep1330-enums": "a Python tool cannot ask the client for input",
    # test_reconnection must close its own SSE stream mid-call.
    "server-sse-polling": "a tool has no hold on the HTTP stream; no event store to resume",
}
# Scenarios that apply but fail today, each with its cause; one that starts
# passing fails this test, so it moves to APPLICABLE.
KNOWN_FAILING: dict[str, str] = {}


def _serve(*, model_url: str, port: int) -> subprocess.Popen[bytes]:
    """``brainjar mcp MANIFEST --transport http`` on ``port``, its model at ``model_url``."""
    command = [sys.executable, "-m", "brainjar", "mcp", str(MANIFEST)]
    options = ["--transport", "http", "--port", str(port)]
    env = {**os.environ, "MODEL_URL": model_url}
    return subprocess.Popen([*command, *options], env=env, stdout=subprocess.DEVNULL)


async def test_conformance_suite_against_a_jars_own_tools(tmp_path: Path) -> None:
    port = free_port()
    with anyio.fail_after(TEST_LIMIT):
        async with ScriptedModelServer([reply("unused")]) as model:
            jar = _serve(model_url=model.openai_base_url, port=port)
            try:
                await wait_listening(port)
                results = await _suite(f"http://127.0.0.1:{port}/mcp", tmp_path / "suite")
            finally:
                _stop(jar)
    print("scenario: brainjar mcp serving its own tools")
    for scenario in sorted(results):
        print(f"  {scenario}: {results[scenario]}")
    failed = {s: results.get(s) for s in APPLICABLE if not _passed(results.get(s, []))}
    assert not failed, f"applicable scenarios that fail against brainjar mcp: {failed}"
    fixed = {s for s in KNOWN_FAILING if _passed(results.get(s, []))}
    assert not fixed, f"known failures that pass now; move them to APPLICABLE: {fixed}"
    unknown = set(results) - APPLICABLE - set(NOT_APPLICABLE) - set(KNOWN_FAILING)
    assert not unknown, f"scenarios this test does not classify yet: {unknown}"


pytestmark = pytest.mark.skipif(
    not (NODE.exists() and SUITE.exists()),
    reason="npm ci --prefix tests installs the conformance suite and Node 22",
)
