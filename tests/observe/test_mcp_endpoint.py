"""The jar's MCP HTTP endpoint: ``/metrics`` beside the MCP path, and the caller's trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from observe_support import ADD_THEN_ANSWER, MANIFEST, add
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id

from brainjar import Jar
from brainjar.manifest import McpEndpointConfig
from brainjar.serve import mcp_endpoint
from brainjar.testing import ScriptedModel, ScriptedModelServer
from brainjar.tools._toolset import StaticSource

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


@asynccontextmanager
async def mcp_jar(tmp_path: Path, extra: str = "") -> AsyncIterator[str]:
    """A jar over the scripted model, served by its ``mcp:`` endpoint; yields the MCP URL."""
    async with ScriptedModelServer(ScriptedModel(ADD_THEN_ANSWER)) as model:
        path = tmp_path / "jar.yaml"
        path.write_text(MANIFEST.format(endpoint=model.openai_base_url, extra=extra))
        endpoint = mcp_endpoint(McpEndpointConfig(port=0))
        async with (
            Jar.load(path, extra_sources=[StaticSource([add])]) as jar,
            anyio.create_task_group() as tg,
        ):
            yield await tg.start(endpoint.serve, jar)
            tg.cancel_scope.cancel()


async def test_the_mcp_port_serves_metrics_and_takes_the_trace_from_meta(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    async with mcp_jar(tmp_path) as url:
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            meta = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
            result = await session.call_tool("ask_adder", {"question": "2+3?"}, meta=meta)
            assert not result.is_error, result
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = await client.get(url.replace("/mcp", "/metrics"))
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert 'brainjar_conversations_total{outcome="answer"} 1.0' in scraped.text
    assert 'brainjar_tool_calls_total{outcome="ok",tool="add"} 1.0' in scraped.text

    conversation = next(s for s in spans.get_finished_spans() if s.name == "invoke_agent adder")
    assert format_trace_id(conversation.context.trace_id) == TRACE_ID
    assert conversation.parent is not None and conversation.parent.is_remote
    assert format_span_id(conversation.parent.span_id) == PARENT_ID


async def test_the_mcp_port_has_no_metrics_when_the_manifest_turns_them_off(
    tmp_path: Path,
) -> None:
    async with mcp_jar(tmp_path, "  observe: {metrics: false}\n") as url:
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = await client.get(url.replace("/mcp", "/metrics"))
    assert scraped.status_code == 404
