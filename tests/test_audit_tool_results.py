"""What the model and the transcript get from a real MCP server's results.

Issue 11 #8: an upstream ``isError`` result is marked for the model as brainjar's
own failures are (``error: ...``). Issue 9 #3: ``spec.loop.max_result`` cuts the
result of every source, not only LangChain's, and a result is stored once in the
transcript. The upstream is the real ``mcp-server-time`` (PyPI), over stdio,
started by the jar; the model is the scripted one on loopback.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import anyio

from brainjar.jar._jar import Jar
from brainjar.testing import ScriptedModelServer, ScriptedRequest, Step, call, reply

# Starting the MCP server and two conversations' worth of model calls.
TEST_LIMIT = 60.0
MAX_RESULT = 48


def _time_server() -> str:
    found = shutil.which("mcp-server-time") or str(
        Path(sys.executable).with_name("mcp-server-time")
    )
    assert Path(found).exists(), "mcp-server-time is missing: pip install -e '.[dev]'"
    return found


def _manifest(tmp_path: Path, model_url: str) -> Path:
    path = tmp_path / "jar.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: clock}}
            spec:
              model: {{backend: openai, endpoint: "{model_url}", name: scripted}}
              tools:
                - mcp: {{command: ["{_time_server()}"], name: time}}
              loop: {{transcripts: {tmp_path / "transcripts"}, max_result: {MAX_RESULT}B}}
            """)
    )
    return path


def _ask_for(timezone: str) -> Step:
    return call("get_current_time", {"timezone": timezone})


def _script(request: ScriptedRequest) -> Step:
    """Asks for the time where the user says, then answers with what the tool said."""
    last = request.messages[-1]
    if last.get("role") == "tool":
        return reply("told: " + str(last.get("content")))
    return _ask_for(str(last.get("content")))


async def test_an_upstream_error_is_marked_and_every_result_is_cut_and_stored_once(
    tmp_path: Path,
) -> None:
    async with ScriptedModelServer(_script) as model:
        async with Jar.load(_manifest(tmp_path, model.openai_base_url)) as jar:
            with anyio.fail_after(TEST_LIMIT):
                refused = await jar.ask("Nowhere/Atlantis")
                told = await jar.ask("Europe/Paris")
    tool_messages = [
        m["content"] for r in model.requests for m in r.messages[-1:] if m.get("role") == "tool"
    ]
    error, cut = tool_messages
    # The server's isError result reaches the model marked like brainjar's own failures.
    assert error.startswith("error: "), error
    assert refused.text == "told: " + error
    # The MCP server's JSON (over MAX_RESULT bytes) is cut with a visible marker.
    shown, marker = cut.rsplit("\n", 1)
    assert shown.startswith('{\n  "timezone": "Europe/Paris"') and len(shown.encode()) == MAX_RESULT
    assert marker.startswith(f"[brainjar: the result was cut to {MAX_RESULT} of its ")
    assert told.text == "told: " + cut
    # The transcript holds a result once: in the tool message, not in the finished event.
    records = [
        json.loads(line)
        for transcript in (tmp_path / "transcripts").glob("*.jsonl")
        for line in transcript.read_text().splitlines()
    ]
    holding = [x for x in records if x.get("content") == cut]
    assert [(x["type"], x["role"]) for x in holding] == [("message", "tool")], holding
    (finished,) = [x for x in records if x["type"] == "tool_call_finished"]
    assert finished["content"] is None and finished["bytes"] == len(cut.encode())
