"""Spans of a conversation through the OpenAI endpoint: their tree, attributes and parent."""

from __future__ import annotations

from pathlib import Path

import httpx
from observe_support import served
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def test_a_conversation_is_one_trace_under_the_callers_traceparent(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    async with served(tmp_path) as jar, httpx.AsyncClient(timeout=10) as client:
        body = {"model": "adder", "messages": [{"role": "user", "content": "2+3?"}]}
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        answer = await client.post(f"{jar.url}/chat/completions", json=body, headers=headers)
        assert answer.status_code == 200, answer.text

    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished}
    conversation = by_name["invoke_agent adder"]
    chats = [s for s in finished if s.name == "chat scripted"]
    tool = by_name["execute_tool add"]
    assert len(finished) == 4, [s.name for s in finished]
    assert len(chats) == 2

    assert {format_trace_id(s.context.trace_id) for s in finished} == {TRACE_ID}
    assert conversation.parent is not None and conversation.parent.is_remote
    assert format_span_id(conversation.parent.span_id) == PARENT_ID
    for child in [*chats, tool]:
        assert child.parent is not None
        assert child.parent.span_id == conversation.context.span_id

    attributes = dict(conversation.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.request.model"] == "scripted"
    assert attributes["brainjar.stop_reason"] == "answer"
    first = dict(chats[0].attributes or {})
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.request.model"] == "scripted"
    assert first["gen_ai.response.finish_reasons"] == ("tool_calls",)
    said = [dict(c.attributes or {})["gen_ai.usage.output_tokens"] for c in chats]
    assert attributes["gen_ai.usage.output_tokens"] == sum(said)  # type: ignore[call-overload]
    tool_attributes = dict(tool.attributes or {})
    assert tool_attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_attributes["gen_ai.tool.name"] == "add"
    assert tool_attributes["gen_ai.tool.call.id"]
    # The tool ran between the two model requests.
    assert chats[0].end_time <= tool.start_time  # type: ignore[operator]
    assert tool.end_time <= chats[1].start_time  # type: ignore[operator]


async def test_no_spans_without_a_tracer(tmp_path: Path) -> None:
    from brainjar.observe import trace_headers, tracer

    assert tracer() is None
    assert trace_headers() == {}
