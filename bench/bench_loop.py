"""Per-step overhead of brainjar's loop, beside a bare hand-written loop and LangChain's agent.

All three talk to the same scripted model server (real HTTP on loopback) and
call the same trivial local tool; each conversation is two model steps: a tool
call, then an answer. Also: how long `brainjar --help` takes.

    python bench/bench_loop.py [--conversations 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from openai import AsyncOpenAI

from brainjar import Tool, ToolResult
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.testing import ScriptedModelServer, call, reply
from brainjar.tools._toolset import StaticSource

SCRIPT = [call("add", {"a": 2, "b": 3}), reply("It is 5.")]
ADD_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}


async def _add(args: dict[str, Any]) -> ToolResult:
    return ToolResult.of(args["a"] + args["b"])


def _ms(samples: list[float]) -> str:
    s = sorted(samples)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return f"median {statistics.median(s) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"


async def _time(n: int, one: Callable[[], Awaitable[None]]) -> list[float]:
    await one()  # warm up connections and imports
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await one()
        out.append(time.perf_counter() - t)
    return out


async def main(n: int) -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        raw = AsyncOpenAI(base_url=server.openai_base_url, api_key="x")
        tools = [
            {
                "type": "function",
                "function": {"name": "add", "description": "add", "parameters": ADD_SCHEMA},
            }
        ]

        async def model_only() -> None:  # the two requests alone, no loop at all
            for step in (
                [{"role": "user", "content": "2+3"}],
                [{"role": "user", "content": "2+3"}, {"role": "assistant", "content": "x"}],
            ):
                stream = await raw.chat.completions.create(
                    model="scripted", messages=step, tools=tools, stream=True
                )  # type: ignore[arg-type]
                async for _ in stream:
                    pass

        async def bare_loop() -> None:  # what a user would write by hand with the same SDK
            messages: list[dict[str, Any]] = [{"role": "user", "content": "2+3"}]
            while True:
                stream = await raw.chat.completions.create(
                    model="scripted", messages=messages, tools=tools, stream=True
                )  # type: ignore[arg-type]
                text, calls = "", {}
                async for chunk in stream:
                    delta = chunk.choices[0].delta if chunk.choices else None
                    if delta and delta.content:
                        text += delta.content
                    for tc in (delta.tool_calls or []) if delta else []:
                        c = calls.setdefault(tc.index, {"id": tc.id, "name": "", "arguments": ""})
                        c["name"] += tc.function.name or "" if tc.function else ""
                        c["arguments"] += tc.function.arguments or "" if tc.function else ""
                if not calls:
                    return
                messages.append(
                    {
                        "role": "assistant",
                        "content": text,
                        "tool_calls": [
                            {
                                "id": c["id"],
                                "type": "function",
                                "function": {"name": c["name"], "arguments": c["arguments"]},
                            }
                            for c in calls.values()
                        ],
                    }
                )
                for c in calls.values():
                    result = await _add(json.loads(c["arguments"]))
                    messages.append(
                        {"role": "tool", "tool_call_id": c["id"], "content": result.content}
                    )

        manifest = JarManifest.model_validate(
            {
                "apiVersion": "brainjar.dev/v1",
                "kind": "Jar",
                "metadata": {"name": "bench"},
                "spec": {
                    "model": {
                        "backend": "openai",
                        "endpoint": server.openai_base_url,
                        "name": "scripted",
                    },
                    "loop": {"transcripts": False},
                },
            }
        )
        tool = Tool(name="add", description="add", parameters=ADD_SCHEMA, call=_add)
        async with Jar(manifest, extra_sources=[StaticSource([tool])]) as jar:

            async def brainjar_loop() -> None:
                await jar.ask("2+3")

            results = {
                "model server alone (2 requests)": await _time(n, model_only),
                "bare hand-written loop": await _time(n, bare_loop),
                "brainjar Jar.ask": await _time(n, brainjar_loop),
            }
            with tempfile.TemporaryDirectory() as tmp:  # the same, writing transcripts
                manifest_t = manifest.model_copy(
                    update={
                        "spec": manifest.spec.model_copy(
                            update={
                                "loop": manifest.spec.loop.model_copy(
                                    update={"transcripts": Path(tmp)}
                                )
                            }
                        )
                    }
                )
                async with Jar(manifest_t, extra_sources=[StaticSource([tool])]) as jar_t:

                    async def with_transcripts() -> None:
                        await jar_t.ask("2+3")

                    results["brainjar Jar.ask + transcript"] = await _time(n, with_transcripts)
        results["LangChain create_agent"] = await _langchain(server, n)
        await raw.close()

    # The bare loop is the baseline: the same SDK calls with no framework around them.
    base = statistics.median(results["bare hand-written loop"])
    print(
        f"\nloop overhead, {n} conversations of 2 steps (tool call, answer), "
        "scripted model on loopback"
    )
    for name, samples in results.items():
        extra = (statistics.median(samples) - base) / 2 * 1000
        print(f"  {name:34s} {_ms(samples)}   per step over the bare loop {extra:+6.2f} ms")
    print(f"\nbrainjar --help: {_help_time():.0f} ms (median of 5)")


async def _langchain(server: ScriptedModelServer, n: int) -> list[float]:
    try:
        from langchain.agents import create_agent
        from langchain_core.tools import tool
        from langchain_openai import ChatOpenAI
    except ImportError:
        print("LangChain agent skipped: pip install langchain langchain-openai")
        return [float("nan")]

    @tool
    def add(a: int, b: int) -> int:
        """add"""
        return a + b

    model = ChatOpenAI(
        base_url=server.openai_base_url, api_key="x", model="scripted", streaming=True
    )  # type: ignore[arg-type]
    agent = create_agent(model, tools=[add])

    async def one() -> None:
        await agent.ainvoke({"messages": [{"role": "user", "content": "2+3"}]})

    return await _time(n, one)


def _help_time() -> float:
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "brainjar", "--help"], capture_output=True, check=True
        )
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    anyio.run(main, parser.parse_args().conversations)
