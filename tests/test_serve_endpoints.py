"""`brainjar run` serves every endpoint a manifest declares, each in one task group:
here gRPC (reached by brainjar's own client) and MCP over streamable HTTP (reached
by the MCP SDK's client)."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from brainjar.adapters.grpc import Channel, GrpcToolSource
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from brainjar import Tool, ToolResult
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.serve._endpoints import serve_endpoints
from brainjar.testing import ScriptedModelServer, reply
from brainjar.tools._toolset import StaticSource


async def shout(args: dict[str, Any]) -> ToolResult:
    return ToolResult(content=args["text"].upper())


SHOUT = Tool(
    name="shout",
    description="capitals",
    parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    call=shout,
)


async def test_the_grpc_endpoint_offers_the_jars_tools() -> None:
    with ScriptedModelServer([reply("unused")]).run_in_thread() as model:
        manifest = JarManifest.model_validate(
            {
                "apiVersion": "brainjar.dev/v1",
                "kind": "Jar",
                "metadata": {"name": "served"},
                "spec": {
                    "model": {
                        "backend": "openai",
                        "endpoint": model.openai_base_url,
                        "name": "scripted",
                    },
                    "endpoints": [{"grpc": {"port": 0}}, {"mcp": {"transport": "http", "port": 0}}],
                    "loop": {"transcripts": False},
                },
            }
        )
        ready: list[tuple[str, str]] = []
        listening = anyio.Event()

        def on_ready(kind: str, url: str) -> None:
            ready.append((kind, url))
            listening.set()

        async with Jar(manifest, extra_sources=[StaticSource([SHOUT])]) as jar:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: serve_endpoints(jar, on_ready=on_ready))
                with anyio.fail_after(20):
                    while len(ready) < 2:
                        await listening.wait()
                        listening = anyio.Event()
                urls = dict(ready)
                url = urls["grpc"]
                assert url.startswith("grpc://127.0.0.1:")
                async with (
                    streamable_http_client(urls["mcp"]) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    listed = await session.list_tools()
                    assert {t.name for t in listed.tools} == {"shout", "ask_served"}
                    result = await session.call_tool("shout", {"text": "mcp"})
                    assert [c.text for c in result.content if isinstance(c, types.TextContent)] == [
                        "MCP"
                    ]
                async with GrpcToolSource(Channel(target=url.removeprefix("grpc://"))) as remote:
                    with anyio.fail_after(10):
                        version = remote.version
                        while not remote.tools():
                            version = await remote.wait_changed(version)
                    (tool,) = remote.tools()
                    assert tool.name == "shout"
                    assert (await tool.call({"text": "hi"})).content == "HI"
                tg.cancel_scope.cancel()
