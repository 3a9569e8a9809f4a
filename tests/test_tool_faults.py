"""A tool never takes the jar down: real `brainjar run` and `brainjar mcp`
processes with LangChain tools that call sys.exit() or hang."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from brainjar.testing import ScriptedModelServer, ScriptedRequest, Step, call, reply

# Starting Python, the jar and uvicorn; generous for a loaded CI machine.
START_LIMIT = 60.0

TOOLS = '''\
"""Tools that misbehave as real ones do."""

import sys
import threading

from langchain_core.tools import tool

_never = threading.Event()


@tool
def quits(code: int) -> str:
    """Ends the process, as a CLI wrapper does."""
    sys.exit(code)


@tool
def stuck() -> str:
    """Never returns, as a tool blocked on a dead socket does."""
    _never.wait()
    return "unreachable"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''


def _manifest(tmp_path: Path, model_url: str, *, tool: str, endpoints: str = "") -> Path:
    (tmp_path / "faulty_tools.py").write_text(TOOLS)
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: faulty}}
            spec:
              model: {{backend: openai, endpoint: "{model_url}", name: scripted}}
              tools:
                - langchain: faulty_tools:{tool}
                - langchain: faulty_tools:add
            """)
        + endpoints
        + "  loop: {transcripts: false, tool_timeout: 1s}\n"
    )
    return manifest


def _tool_then_echo(name: str, arguments: dict[str, Any]) -> Any:
    """Calls ``name``, then answers with what the tool message said."""

    def step(request: ScriptedRequest) -> Step:
        last = request.messages[-1]
        if last.get("role") == "tool":
            return reply(f"the tool said: {last.get('content')}")
        return call(name, arguments)

    return step


@contextmanager
def _served_jar(manifest: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``brainjar run MANIFEST --json``; yields the process and its OpenAI base URL."""
    jar = subprocess.Popen(
        [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    try:
        assert jar.stdout is not None
        listening = json.loads(jar.stdout.readline())
        assert listening["type"] == "listening" and listening["endpoint"] == "openai"
        yield jar, listening["url"]
    finally:
        jar.kill()
        jar.wait()
        for stream in (jar.stdout, jar.stderr):
            if stream:
                stream.close()


def _ask(url: str, question: str) -> httpx.Response:
    return httpx.post(
        url + "/chat/completions",
        json={"model": "faulty", "messages": [{"role": "user", "content": question}]},
        timeout=START_LIMIT,
    )


def test_a_tool_calling_sys_exit_does_not_end_a_served_jar(tmp_path: Path) -> None:
    script = _tool_then_echo("quits", {"code": 3})
    with ScriptedModelServer(script).run_in_thread() as model:
        manifest = _manifest(
            tmp_path,
            model.openai_base_url,
            tool="quits",
            endpoints="  endpoints:\n    - openai: {port: 0}\n",
        )
        with _served_jar(manifest, tmp_path) as (jar, url):
            for question in ("first", "second"):
                answer = _ask(url, question)
                assert answer.status_code == 200, answer.text
                text = answer.json()["choices"][0]["message"]["content"]
                assert text.startswith("the tool said: ")
                assert "quits tried to end the process" in text and "SystemExit: 3" in text
            assert jar.poll() is None
            jar.send_signal(signal.SIGINT)
            assert jar.wait(timeout=START_LIMIT) == 130


def test_ctrl_c_stops_a_jar_whose_sync_tool_hangs(tmp_path: Path) -> None:
    script = _tool_then_echo("stuck", {})
    with ScriptedModelServer(script).run_in_thread() as model:
        manifest = _manifest(
            tmp_path,
            model.openai_base_url,
            tool="stuck",
            endpoints="  endpoints:\n    - openai: {port: 0}\n",
        )
        with _served_jar(manifest, tmp_path) as (jar, url):
            answer = _ask(url, "call the stuck tool")
            assert answer.status_code == 200, answer.text
            assert "did not finish within 1s" in answer.json()["choices"][0]["message"]["content"]
            # The tool's thread is still blocked; Ctrl-C must not wait for it.
            jar.send_signal(signal.SIGINT)
            assert jar.wait(timeout=START_LIMIT) == 130


def _text(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def test_brainjar_mcp_answers_a_sys_exit_tool_with_an_error_and_keeps_serving(
    tmp_path: Path,
) -> None:
    with anyio.fail_after(START_LIMIT):
        async with ScriptedModelServer(_tool_then_echo("quits", {"code": 3})) as model:
            params = StdioServerParameters(
                command=sys.executable,
                args=[
                    "-m",
                    "brainjar",
                    "mcp",
                    str(_manifest(tmp_path, model.openai_base_url, tool="quits")),
                ],
                env=dict(os.environ),
            )
            async with (
                stdio_client(params) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                failed = await session.call_tool("quits", {"code": 3})
                assert failed.is_error
                assert "quits tried to end the process (SystemExit: 3)" in _text(failed)
                assert _text(await session.call_tool("add", {"a": 2, "b": 3})) == "5"
                # The jar itself still answers, after its model read the tool's error.
                answer = await session.call_tool("ask_faulty", {"question": "quit"})
                assert not answer.is_error
                assert "SystemExit: 3" in _text(answer)
