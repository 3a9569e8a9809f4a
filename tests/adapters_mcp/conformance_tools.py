"""An MCP server (the ``mcp`` SDK's low-level ``Server``) with the conformance suite's test_* tools.

``python conformance_tools.py PORT [--modern-only]`` serves streamable HTTP on
127.0.0.1:PORT/mcp. With ``--modern-only`` it speaks only the 2026-07-28
revision: an ``initialize`` gets the spec's "unsupported protocol version"
error, so only a client that probes ``server/discover`` gets in. The tool
``grow`` adds a tool and tells listeners (both eras) that the list changed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any

import mcp_types as types
import uvicorn
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

# A 1x1 red PNG and a minimal WAV (44-byte header, no samples).
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
).decode()
WAV = base64.b64encode(
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
    b"\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
).decode()
STEP = 0.05  # the pause the suite asks for between log and progress messages
EMPTY: dict[str, Any] = {"type": "object", "properties": {}}

bus = InMemorySubscriptionBus()
grown: list[str] = []


def _tools() -> list[types.Tool]:
    tools = [
        types.Tool(
            name=name,
            title=name.replace("_", " "),
            description=f"conformance tool {name}",
            input_schema=EMPTY,
            annotations=types.ToolAnnotations(read_only_hint=True),
        )
        for name in (
            "test_simple_text",
            "test_image_content",
            "test_audio_content",
            "test_embedded_resource",
            "test_multiple_content_types",
            "test_tool_with_logging",
            "test_tool_with_progress",
            "test_error_handling",
            "grow",
        )
    ]
    tools.append(
        types.Tool(
            name="json_schema_2020_12_tool",
            description="Tool with JSON Schema 2020-12 features",
            input_schema={
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "type": "object",
                        "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                    }
                },
                "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                "additionalProperties": False,
            },
        )
    )
    tools.append(
        types.Tool(
            name="test_structured",
            description="returns structured content",
            input_schema=EMPTY,
            output_schema={"type": "object", "properties": {"n": {"type": "integer"}}},
        )
    )
    tools.extend(types.Tool(name=n, description="grown", input_schema=EMPTY) for n in grown)
    return tools


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
    return types.ListToolsResult(tools=_tools())


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    name = params.name
    if name == "test_simple_text":
        return types.CallToolResult(content=[_text("This is a simple text response for testing.")])
    if name == "test_image_content":
        content: list[Any] = [types.ImageContent(type="image", data=PNG, mime_type="image/png")]
        return types.CallToolResult(content=content)
    if name == "test_audio_content":
        content = [types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]
        return types.CallToolResult(content=content)
    if name == "test_embedded_resource":
        resource = types.TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
        return types.CallToolResult(
            content=[types.EmbeddedResource(type="resource", resource=resource)]
        )
    if name == "test_multiple_content_types":
        resource = types.TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}),
        )
        content = [
            _text("Multiple content types test:"),
            types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            types.EmbeddedResource(type="resource", resource=resource),
        ]
        return types.CallToolResult(content=content)
    if name == "test_tool_with_logging":
        for i, message in enumerate(
            ("Tool execution started", "Tool processing data", "Tool execution completed")
        ):
            if i:
                await asyncio.sleep(STEP)
            await ctx.session.send_log_message(
                "info", message, "conformance", related_request_id=ctx.request_id
            )
        return types.CallToolResult(content=[_text("Tool with logging executed successfully")])
    if name == "test_tool_with_progress":
        for i, progress in enumerate((0, 50, 100)):
            if i:
                await asyncio.sleep(STEP)
            await ctx.session.report_progress(progress, 100, f"{progress}%")
        return types.CallToolResult(content=[_text("Tool with progress executed successfully")])
    if name == "test_error_handling":
        return types.CallToolResult(
            content=[_text("This tool intentionally returns an error for testing")], is_error=True
        )
    if name == "test_structured":
        return types.CallToolResult(content=[_text('{"n": 7}')], structured_content={"n": 7})
    if name == "grow":
        grown.append(f"grown_{len(grown) + 1}")
        await bus.publish(ToolsListChanged())
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None and connection.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await connection.send_tool_list_changed()
        return types.CallToolResult(content=[_text(f"now {len(grown)} grown")])
    if name in grown:
        return types.CallToolResult(content=[_text(f"{name} ran")])
    return types.CallToolResult(content=[_text(f"unknown tool {name}")], is_error=True)


async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()  # every message is sent; the suite asks for debug


class _ChangingServer(Server[Any]):
    def create_initialization_options(self, notification_options: Any = None, *args: Any) -> Any:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), *args
        )


class _ModernOnly:
    """Answers ``initialize`` with "unsupported protocol version" (-32022), naming 2026-07-28."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("method") == "initialize":
            error = {
                "code": types.UNSUPPORTED_PROTOCOL_VERSION,
                "message": "this server speaks only 2026-07-28",
                "data": {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": "handshake"},
            }
            payload = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error})
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload.encode()})
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def main() -> None:
    port = int(sys.argv[1])
    server = _ChangingServer(
        "conformance-tools",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_subscriptions_listen=ListenHandler(bus),
    )
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    manager = StreamableHTTPSessionManager(app=server)
    app: Any = StreamableHTTPASGIApp(manager)
    if "--modern-only" in sys.argv:
        app = _ModernOnly(app)

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            async with manager.run():
                while (message := await receive())["type"] != "lifespan.shutdown":
                    if message["type"] == "lifespan.startup":
                        await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    uvicorn.run(lifespan, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
