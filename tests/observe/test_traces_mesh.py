"""A trace crosses the mesh: the jar's tool span parents the span of a real serve-tools."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.streams.text import TextReceiveStream
from observe_support import eventually, served
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from process_support import ended
from starlette.types import Receive, Scope, Send

from brainjar.http import serve_asgi
from brainjar.testing import call, reply

# How long serve-tools may take to stop once told to.
STOP_WAIT = 20.0

TOOLS = '''
from langchain_core.tools import tool


@tool
def echo(text: str) -> str:
    """Says the text back."""
    return text
'''

SERVICE = """\
apiVersion: brainjar.dev/v1
kind: ToolService
metadata: {name: echoes}
spec:
  tools:
    - langchain: observe_mesh_tools:echo
  announce: {enabled: false}
"""


class Receiver:
    """An OTLP/HTTP (protobuf) trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/v1/traces":
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scoped in resource.scope_spans:
                    self.spans.extend(scoped.spans)
        data = ExportTraceServiceResponse().SerializeToString()
        headers = [(b"content-type", b"application/x-protobuf")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})


@asynccontextmanager
async def tool_service(folder: Path, env: dict[str, str]) -> AsyncIterator[dict[str, int]]:
    """Runs ``brainjar serve-tools --json --metrics-port 0``; yields its ports once ready."""
    (folder / "observe_mesh_tools.py").write_text(TOOLS)
    manifest = folder / "service.yaml"
    manifest.write_text(SERVICE)
    command = [sys.executable, "-m", "brainjar", "serve-tools", str(manifest), "--json"]
    command += ["--metrics-port", "0"]
    process = await anyio.open_process(command, env={**os.environ, **env}, stderr=None)
    events: list[dict[str, Any]] = []

    async def read() -> None:
        assert process.stdout is not None
        buffer = ""
        async for chunk in TextReceiveStream(process.stdout):
            buffer += chunk
            while "\n" in buffer:
                line, buffer = buffer.split("\n", 1)
                if line.startswith("{"):
                    events.append(json.loads(line))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await eventually(
                lambda: any(e["type"] == "ready" for e in events) or process.returncode is not None
            )
            ports = {
                e["transport"]: int(e["url"].rsplit(":", 1)[1].split("/", 1)[0])
                for e in events
                if e["type"] == "listening"
            }
            assert "grpc" in ports, f"serve-tools did not start: {events}"
            yield ports
            tg.cancel_scope.cancel()
    finally:
        await ended(process, grace=STOP_WAIT)


async def test_the_tool_services_span_continues_the_jars_trace(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    receiver = Receiver()
    async with anyio.create_task_group() as tg:
        otlp = await tg.start(
            lambda task_status: serve_asgi(
                receiver, host="127.0.0.1", port=0, what="an OTLP receiver", task_status=task_status
            )
        )
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": str(otlp),
            "OTEL_SERVICE_NAME": "echoes",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        async with tool_service(tmp_path, env) as ports:
            static = f'["127.0.0.1:{ports["grpc"]}"]'
            extra = f"  tools:\n    - discover: {{static: {static}, multicast: false}}\n"
            script = [call("echo", {"text": "hi"}), reply("It said hi.")]
            async with served(tmp_path, script, extra=extra, sources=[]) as jar:
                await eventually(lambda: any(t.name == "echo" for t in jar.jar.tools()))
                async with httpx.AsyncClient(timeout=30) as client:
                    body = {"model": "adder", "messages": [{"role": "user", "content": "echo"}]}
                    answer = await client.post(f"{jar.url}/chat/completions", json=body)
                    assert answer.status_code == 200, answer.text
                    assert "hi" in jar.model.requests[-1].messages[-1]["content"]

                    name = "execute_tool echo"
                    tool = next(s for s in spans.get_finished_spans() if s.name == name)
                    await eventually(lambda: any(s.name == name for s in receiver.spans))
                    remote = next(s for s in receiver.spans if s.name == name)
                    assert int.from_bytes(remote.trace_id, "big") == tool.context.trace_id
                    assert int.from_bytes(remote.parent_span_id, "big") == tool.context.span_id

                    scraped = await client.get(f"http://127.0.0.1:{ports['metrics']}/metrics")
                    assert (
                        'brainjar_tool_service_calls_total{outcome="ok",tool="echo"} 1.0'
                        in scraped.text
                    ), scraped.text
                    assert 'brainjar_tool_service_call_duration_seconds_count{tool="echo"} 1.0' in (
                        scraped.text
                    )
        tg.cancel_scope.cancel()
