"""A jar behind the scripted model, served by one of its HTTP endpoints, for the tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from brainjar import Tool, ToolResult
from brainjar.endpoints import HttpEndpoint, HttpSettings, ollama_endpoint, openai_endpoint
from brainjar.jar._jar import Jar
from brainjar.protocols import ToolSource
from brainjar.testing import (
    ScriptedModel,
    ScriptedModelServer,
    ScriptedRequest,
    Step,
    call,
    reply,
)
from brainjar.tools._toolset import StaticSource

# One tool call, then the answer: what every client below should see the jar do.
# The answer is paced as a model generating word by word, so a client gets it in pieces.
ADD_THEN_ANSWER: list[Step] = [call("add", {"a": 2, "b": 3}), reply("The sum is 5.", pace=0.01)]
ANSWER = "The sum is 5."

MANIFEST = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {{name: adder}}
spec:
  model: {{backend: openai, endpoint: "{endpoint}", name: scripted, system: be brief}}
  tools:
    - langchain: endpoint_tools:add
  loop: {{transcripts: {transcripts}}}
"""


@dataclass
class Served:
    """A served jar: the endpoint's URL, the jar, and the scripted model behind it."""

    url: str
    jar: Jar
    model: ScriptedModelServer
    endpoint: HttpEndpoint
    stop_scope: anyio.CancelScope
    stopped: anyio.Event

    def stop(self) -> None:
        """Cancels the endpoint, as Ctrl-C does; ``stopped`` is set once it returned."""
        self.stop_scope.cancel()

    @property
    def root(self) -> str:
        """``http://host:port``, without the OpenAI ``/v1``."""
        return self.url.removesuffix("/v1")

    def tool_results(self) -> list[str]:
        """What the model was told its tool calls gave, in its last request."""
        return [m["content"] for m in self.model.requests[-1].messages if m["role"] == "tool"]


@asynccontextmanager
async def served(
    tmp_path: Path,
    script: Sequence[Step] | Callable[[ScriptedRequest], Step] = ADD_THEN_ANSWER,
    *,
    kind: str = "openai",
    repeat: bool = False,
    sources: Sequence[ToolSource] = (),
    max_body: int | None = None,
    log: Any = None,
    transcripts: Path | None = None,
    **http: Any,
) -> AsyncIterator[Served]:
    """Runs the scripted model, a jar over it, and the jar's ``kind`` endpoint.

    ``transcripts``: a folder for the jar's transcripts; default: none are kept.
    """
    async with ScriptedModelServer(ScriptedModel(script, repeat=repeat)) as model:
        path = tmp_path / "jar.yaml"
        kept = "false" if transcripts is None else f'"{transcripts}"'
        path.write_text(MANIFEST.format(endpoint=model.openai_base_url, transcripts=kept))
        config = HttpSettings(port=0, **http)
        factory = openai_endpoint if kind == "openai" else ollama_endpoint
        extra: dict[str, Any] = {"log": log}
        if max_body is not None:
            extra["max_body"] = max_body
        endpoint = factory(config, **extra)
        stop_scope = anyio.CancelScope()
        stopped = anyio.Event()

        async def run(*, task_status: TaskStatus[str]) -> None:
            try:
                with stop_scope:
                    await endpoint.serve(jar, task_status=task_status)
            finally:
                stopped.set()

        async with (
            Jar.load(path, extra_sources=list(sources)) as jar,
            anyio.create_task_group() as tg,
        ):
            url = await tg.start(run)
            try:
                yield Served(
                    url=url,
                    jar=jar,
                    model=model,
                    endpoint=endpoint,
                    stop_scope=stop_scope,
                    stopped=stopped,
                )
            finally:
                stop_scope.cancel()


class Gate:
    """A tool that waits until the test opens it, and says when it started and was cancelled."""

    def __init__(self, name: str = "slow") -> None:
        self.started = anyio.Event()
        self.opened = anyio.Event()
        self.cancelled = anyio.Event()
        self.calls = 0
        self.tool = Tool(
            name=name,
            description="waits for the test",
            parameters={"type": "object", "properties": {}},
            call=self._call,
            source="test",
        )

    def source(self) -> StaticSource:
        return StaticSource([self.tool], name="test")

    async def _call(self, _: dict[str, Any]) -> ToolResult:
        self.calls += 1
        self.started.set()
        try:
            await self.opened.wait()
        except anyio.get_cancelled_exc_class():
            self.cancelled.set()
            raise
        return ToolResult(content="opened")


def sse_events(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """A raw SSE body's data objects and comment lines."""
    data, comments = [], []
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            data.append(json.loads(line[6:]))
        elif line.startswith(":"):
            comments.append(line)
    return data, comments
