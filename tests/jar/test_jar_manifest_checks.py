"""What a jar checks once its sources are open, and the loop limits the manifest sets."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from brainjar.jar._jar import Jar
from brainjar.testing import ScriptedModelServer, call, reply

TOOLS_MODULE = '''
from langchain_core.tools import tool


@tool
def read_file(path: str) -> str:
    """Reads a file."""
    return "text of " + path


@tool
def list_directory(path: str) -> str:
    """Lists a folder."""
    return "a.txt"


@tool
def big() -> str:
    """Answers with two million bytes."""
    return "x" * 2_000_000


def clerk():
    return [read_file, list_directory, big]
'''


def jar_file(tmp_path: Path, module: str, tools: str, *, endpoint: str, loop: str = "") -> Path:
    """A manifest next to a LangChain tools module named ``module``."""
    (tmp_path / f"{module}.py").write_text(TOOLS_MODULE)
    text = textwrap.dedent(
        f"""\
        apiVersion: brainjar.dev/v1
        kind: Jar
        metadata:
          name: clerk
        spec:
          model:
            backend: openai
            endpoint: {endpoint}
            name: scripted
          loop:
            transcripts: false
            {loop}
          tools:
        """
    )
    path = tmp_path / "jar.yaml"
    path.write_text(text + textwrap.indent(textwrap.dedent(tools), "  "))
    return path


TYPO = """\
- langchain: {module}:clerk
  include: [read_file, list_directroy]
  exclude: [bgi]
"""
# A port nothing listens on: the model is never asked, and a check that is not
# made would end in a connection error (exit 1), not exit 2.
NOWHERE = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("command", ["tools", "run"])
def test_a_filter_naming_no_tool_is_a_manifest_error(tmp_path: Path, command: str) -> None:
    module = f"clerk_tools_{command}"
    path = jar_file(tmp_path, module, TYPO.format(module=module), endpoint=NOWHERE)
    args = [str(path)] if command == "tools" else ["-v", str(path), "hello"]
    run = subprocess.run(
        [sys.executable, "-m", "brainjar", command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    source = f"langchain:{module}:clerk"
    assert (
        f"{path}:15:26: spec.tools[0].include: {source} has no tool 'list_directroy'; "
        "did you mean 'list_directory'? It offers big, list_directory, read_file."
    ) in run.stderr
    assert (
        f"{path}:16:15: spec.tools[0].exclude: {source} has no tool 'bgi'; did you mean 'big'?"
        in (run.stderr)
    )


async def test_a_source_that_is_not_up_is_not_taken_for_a_typo(tmp_path: Path) -> None:
    tools = """\
    - langchain: clerk_tools_down:clerk
      include: [read_file]
    - mcp: {url: "http://127.0.0.1:9/mcp", timeout: 1s}
      include: [anything]
    """
    jar = Jar.load(jar_file(tmp_path, "clerk_tools_down", tools, endpoint=NOWHERE))
    with anyio.fail_after(30):
        async with jar.toolset:
            assert jar.tool_problems() == []
            assert [t.name for t in jar.tools()] == ["read_file"]


async def test_tool_problems_without_a_file_name_the_entry(tmp_path: Path) -> None:
    module = "clerk_tools_nofile"
    loaded = Jar.load(jar_file(tmp_path, module, TYPO.format(module=module), endpoint=NOWHERE))
    jar = Jar(loaded.manifest, base_dir=tmp_path)  # made in Python: no origin
    with anyio.fail_after(30):
        async with jar.toolset:
            problems = jar.tool_problems()
    assert [p.split(": ")[:2] for p in problems] == [
        ["manifest", "spec.tools[0].include"],
        ["manifest", "spec.tools[0].exclude"],
    ]


async def test_max_result_cuts_what_the_model_is_shown(tmp_path: Path) -> None:
    tools = """\
    - langchain: clerk_tools_big:clerk
      include: [big]
    """
    async with ScriptedModelServer([call("big", {}), reply("it is long")]) as server:
        path = jar_file(
            tmp_path,
            "clerk_tools_big",
            tools,
            endpoint=server.openai_base_url,
            loop="max_result: 1KiB",
        )
        async with Jar.load(path) as jar:
            with anyio.fail_after(60):
                answer = await jar.ask("how long is it?")
    assert answer.text == "it is long"
    body = server.requests[-1].body
    [shown] = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    assert shown.startswith("x" * 1024)
    assert shown.endswith("[brainjar: the result was cut to 1024 of its 2000000 bytes]")
