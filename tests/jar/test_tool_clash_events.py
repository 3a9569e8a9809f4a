"""A name clash between tool sources is a ``tool_clash`` event in the conversation.

In process: two sources, the second starting to offer the first one's tool name
in the middle of a conversation; the clash is said once, at the step where it
appeared, and again when the next conversation starts. As users see it: `brainjar
run --json` with a real gRPC tool service (a ``static`` discover entry) and a local
LangChain tool of the same name, the model a scripted server on loopback.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from brainjar.adapters.grpc import ToolServer, serve_grpc

from brainjar import StepStarted, ToolClash, ToolResult, tool
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.testing import FunctionModel, FunctionRequest, ScriptedModelServer, call, reply
from brainjar.tools import Tool
from brainjar.tools._toolset import StaticSource

# One conversation in process; starting `brainjar run` and admitting the service, on a busy machine.
LIMIT = 30.0
RUN_LIMIT = 90.0


async def _said(args: dict[str, Any]) -> ToolResult:
    return ToolResult(content="said")


def _echo(source: str) -> Tool:
    return Tool(
        name="echo", description="echo", parameters={"type": "object"}, call=_said, source=source
    )


async def test_a_clash_is_an_event_once_at_the_step_it_appears(tmp_path: Path) -> None:
    first = StaticSource([_echo("first")], name="first")
    second = StaticSource([], name="second")

    def script(messages: Any, request: FunctionRequest) -> Any:
        if not any(m.role == "tool" for m in messages):
            second.set([_echo("second")])  # the tool set changes while the model thinks
            return call("echo", {})
        return reply("done")

    manifest = JarManifest.model_validate(
        {
            "apiVersion": "brainjar.dev/v1",
            "kind": "Jar",
            "metadata": {"name": "clashing"},
            "spec": {
                "model": {"backend": "openai", "endpoint": "http://127.0.0.1:9/v1", "name": "f"},
                "loop": {"transcripts": False},
            },
        }
    )
    jar = Jar(manifest, client=FunctionModel(script, repeat=True), extra_sources=[first, second])
    conversations = []
    async with jar:
        for _ in range(2):
            with anyio.fail_after(LIMIT):
                async with jar.events("go") as events:
                    said = [e async for e in events]
                conversations.append([e for e in said if isinstance(e, StepStarted | ToolClash)])
    why = "give one of them a prefix"
    clash = ToolClash(name="echo", winner="first", losers=("second",), why=why)
    # The first conversation: no clash at step 1; the clash, once, before step 2.
    assert conversations[0] == [StepStarted(step=1, tools=1), clash, StepStarted(step=2, tools=1)]
    # The next one: said at its start, and not again.
    assert conversations[1] == [clash, StepStarted(step=1, tools=1), StepStarted(step=2, tools=1)]


LOCAL = '''
from langchain_core.tools import tool


@tool
def echo(text: str) -> str:
    """Says the text back, here."""
    return "here: " + text
'''


@tool
def echo(text: str) -> str:
    """Says the text back, from afar."""
    return "from afar: " + text


async def test_brainjar_run_json_shows_a_clash_with_a_discovered_service(tmp_path: Path) -> None:
    (tmp_path / "clash_run_tools.py").write_text(LOCAL)
    server = ToolServer(tools=lambda: [echo], instance="far")
    script = [call("echo", {"text": "hi"}), reply("done")]
    async with anyio.create_task_group() as tg:
        port = await tg.start(partial(serve_grpc, server))
        with ScriptedModelServer(script).run_in_thread() as model:
            manifest = tmp_path / "jar.yaml"
            manifest.write_text(
                textwrap.dedent(f"""\
                    apiVersion: brainjar.dev/v1
                    kind: Jar
                    metadata: {{name: clash}}
                    spec:
                      model: {{backend: openai, endpoint: "{model.openai_base_url}", name: s}}
                      tools:
                        - discover: {{static: ["127.0.0.1:{port}"], multicast: false}}
                        - langchain: clash_run_tools:echo
                      loop: {{transcripts: false}}
                """)
            )
            command = [sys.executable, "-m", "brainjar", "run", str(manifest), "say hi", "--json"]
            with anyio.fail_after(RUN_LIMIT):
                run = await anyio.run_process(
                    command, check=False, cwd=tmp_path, env={**os.environ}
                )
        tg.cancel_scope.cancel()
    assert run.returncode == 0, run.stderr.decode()
    events = [json.loads(line) for line in run.stdout.decode().splitlines()]
    kinds = [e["type"] for e in events]
    clashes = [e for e in events if e["type"] == "tool_clash"]
    far = f"grpc:far@127.0.0.1:{port}"
    assert clashes == [
        {
            "type": "tool_clash",
            "name": "echo",
            "winner": "langchain:clash_run_tools:echo",
            "losers": [far],
            "why": clashes[0]["why"],
        }
    ], events
    assert "local sources win over discovered ones" in clashes[0]["why"]
    assert kinds.index("tool_clash") < kinds.index("step")  # said as the conversation starts
    finished = next(e for e in events if e["type"] == "tool_call_finished")
    assert finished["content"] == "here: hi"  # and the local tool was the one called
