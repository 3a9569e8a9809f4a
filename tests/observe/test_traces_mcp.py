"""The jar's tool span goes to an MCP server as ``traceparent`` in the call's ``_meta``."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from observe_support import served
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id

from brainjar.testing import call, reply

SERVER = '''
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("traced")


@server.tool()
def whose_trace(ctx: Context) -> str:
    """The traceparent this call came with."""
    meta = ctx.request_context.meta or {}
    return str(meta.get("traceparent", "none"))


server.run()
'''


async def test_an_mcp_call_carries_the_tool_spans_traceparent(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    script = tmp_path / "traced_server.py"
    script.write_text(SERVER)
    extra = f"  tools:\n    - mcp: {{command: [{sys.executable}, {script}]}}\n"
    steps = [call("whose_trace", {}), reply("done")]
    async with (
        served(tmp_path, steps, extra=extra, sources=[]) as jar,
        httpx.AsyncClient(timeout=30) as client,
    ):
        body = {"model": "adder", "messages": [{"role": "user", "content": "trace?"}]}
        answer = await client.post(f"{jar.url}/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        seen = jar.model.requests[-1].messages[-1]["content"]

    tool = next(s for s in spans.get_finished_spans() if s.name == "execute_tool whose_trace")
    trace_id, span_id = format_trace_id(tool.context.trace_id), format_span_id(tool.context.span_id)
    version, seen_trace, seen_span, _flags = seen.split("-")
    assert (version, seen_trace, seen_span) == ("00", trace_id, span_id)
