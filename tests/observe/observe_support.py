"""A jar behind the scripted model, served by its OpenAI endpoint, for the observability tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

import brainjar
from brainjar.endpoints import HttpSettings, openai_endpoint
from brainjar.jar._jar import Jar
from brainjar.protocols import ToolSource
from brainjar.testing import ScriptedModel, ScriptedModelServer, Step, call, reply
from brainjar.tools._toolset import StaticSource

# How long a condition polled over HTTP (Prometheus, a receiver) may take to hold.
WAIT = 60.0
POLL = 0.1

ADD_THEN_ANSWER: list[Step] = [call("add", {"a": 2, "b": 3}), reply("The sum is 5.")]

MANIFEST = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {{name: adder}}
spec:
  model: {{backend: openai, endpoint: "{endpoint}", name: scripted}}
  loop: {{transcripts: false}}
{extra}"""


@brainjar.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@dataclass
class Served:
    """The OpenAI endpoint's URL (``.../v1``), the jar, and the scripted model behind it."""

    url: str
    jar: Jar
    model: ScriptedModelServer

    @property
    def root(self) -> str:
        """``http://host:port``."""
        return self.url.removesuffix("/v1")


@asynccontextmanager
async def served(
    tmp_path: Path,
    script: Sequence[Step] = ADD_THEN_ANSWER,
    *,
    extra: str = "",
    sources: Sequence[ToolSource] | None = None,
) -> AsyncIterator[Served]:
    """Runs the scripted model, a jar over it (``extra``: more of its spec) and its endpoint."""
    async with ScriptedModelServer(ScriptedModel(script)) as model:
        path = tmp_path / "jar.yaml"
        path.write_text(MANIFEST.format(endpoint=model.openai_base_url, extra=extra))
        chosen = [StaticSource([add])] if sources is None else list(sources)
        endpoint = openai_endpoint(HttpSettings(port=0))
        async with Jar.load(path, extra_sources=chosen) as jar, anyio.create_task_group() as tg:
            url = await tg.start(endpoint.serve, jar)
            yield Served(url=url, jar=jar, model=model)
            tg.cancel_scope.cancel()


async def eventually(predicate: Callable[[], bool], *, limit: float = WAIT) -> None:
    """Waits, within ``limit``, until ``predicate`` holds."""
    with anyio.fail_after(limit):
        while True:
            if predicate():
                return
            await anyio.sleep(POLL)
