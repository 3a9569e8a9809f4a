"""`brainjar tools` with a discovered service and a local tool of the same name.

A real gRPC tool service on 127.0.0.1 (a ``static`` discover entry, no mDNS)
offers ``echo``; the manifest lists that discover entry first and a LangChain
``echo`` after it. The local one is used and the table says whom it won over,
unless the entry says ``prefer: discovered``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from functools import partial
from pathlib import Path

import anyio
from brainjar.adapters.grpc import ToolServer, serve_grpc

from brainjar import tool

# Importing brainjar, opening the sources and admitting the service, on a busy machine.
LIMIT = 90
NOWHERE = "http://127.0.0.1:9/v1"  # the model is never asked

LOCAL = '''
from langchain_core.tools import tool


@tool
def echo(text: str) -> str:
    """Says the text back, here."""
    return text
'''


@tool
def echo(text: str) -> str:
    """Says the text back, from afar."""
    return "from afar: " + text


def _manifest(folder: Path, port: int, prefer: str) -> Path:
    path = folder / f"jar-{prefer}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: clash}}
            spec:
              model: {{backend: openai, endpoint: "{NOWHERE}", name: none}}
              tools:
                - discover: {{static: ["127.0.0.1:{port}"], multicast: false, prefer: {prefer}}}
                - langchain: clash_local_tools:echo
        """)
    )
    return path


async def test_brainjar_tools_shows_which_source_won_a_name(tmp_path: Path) -> None:
    (tmp_path / "clash_local_tools.py").write_text(LOCAL)
    server = ToolServer(tools=lambda: [echo], instance="far")
    shown = {}
    async with anyio.create_task_group() as tg:
        port = await tg.start(partial(serve_grpc, server))
        for prefer in ("local", "discovered"):
            command = [sys.executable, "-m", "brainjar", "tools", "--json"]
            with anyio.fail_after(LIMIT):
                run = await anyio.run_process(
                    [*command, str(_manifest(tmp_path, port, prefer))], check=False, cwd=tmp_path
                )
            assert run.returncode == 0, run.stderr.decode()
            shown[prefer] = (json.loads(run.stdout), run.stderr.decode())
        tg.cancel_scope.cancel()
    far = f"grpc:far@127.0.0.1:{port}"
    [local], warning = shown["local"]
    assert (local["source"], local["won_over"]) == ("langchain:clash_local_tools:echo", [far])
    assert (
        f"tool 'echo' of {far} is left out: langchain:clash_local_tools:echo has one of that "
        "name (local sources win over discovered ones" in warning
    )
    [found], warning = shown["discovered"]
    assert (found["source"], found["won_over"]) == (far, ["langchain:clash_local_tools:echo"])
    assert "prefer: discovered" in warning
