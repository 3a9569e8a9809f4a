"""The gRPC tool service and its client, on loopback, in one process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest
from brainjar.adapters.grpc import (
    Channel,
    GrpcToolSource,
    Limits,
    TlsFiles,
    ToolServer,
    describe,
    health_check,
    serve_grpc,
)
from tls_support import self_signed_pem

from brainjar._errors import TransportError
from brainjar.tools._tool import Tool, ToolResult

WAIT = 10.0
POLL = 0.02


async def eventually(predicate: Callable[[], bool]) -> None:
    """Waits, within WAIT, until ``predicate`` holds."""
    with anyio.fail_after(WAIT):
        while True:
            if predicate():
                return
            await anyio.sleep(POLL)


async def _echo(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content=str(arguments["text"]))


async def _big(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content="x" * int(arguments["size"]))


async def _slow(arguments: dict[str, Any]) -> ToolResult:
    await anyio.sleep_forever()
    raise AssertionError


def _tool(name: str, call: Any, properties: dict[str, Any]) -> Tool:
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    return Tool(name=name, description=f"the {name} tool", parameters=schema, call=call)


TOOLS = [
    _tool("echo", _echo, {"text": {"type": "string"}}),
    _tool("big", _big, {"size": {"type": "integer"}}),
    _tool("slow", _slow, {}),
]


def _plain(port: int) -> Channel:
    return Channel(target=f"127.0.0.1:{port}")


@asynccontextmanager
async def serving(
    tools: Sequence[Tool] = TOOLS, *, tls: TlsFiles | None = None, **kwargs: Any
) -> AsyncIterator[tuple[ToolServer, int]]:
    current = list(tools)
    server = ToolServer(tools=lambda: current, instance="unit", **kwargs)
    server.current = current  # type: ignore[attr-defined]
    async with anyio.create_task_group() as tg:
        port = await tg.start(partial(serve_grpc, server, tls=tls, grace=1.0))
        yield server, port
        tg.cancel_scope.cancel()


async def test_list_call_and_watch() -> None:
    async with serving() as (server, port), GrpcToolSource(_plain(port)) as source:
        assert [t.name for t in source.tools()] == ["echo", "big", "slow"]
        echo = source.tools()[0]
        assert echo.parameters["required"] == ["text"]
        result = await echo.call({"text": "hi"})
        assert result == ToolResult(content="hi")
        server.current.append(_tool("late", _echo, {"text": {"type": "string"}}))  # type: ignore[attr-defined]
        server.notify_if_changed()
        await eventually(lambda: "late" in [t.name for t in source.tools()])


async def test_token_is_required_and_proven() -> None:
    async with serving(token="s3cret") as (_, port):
        target = f"127.0.0.1:{port}"
        with pytest.raises(TransportError, match="UNAUTHENTICATED"):
            async with GrpcToolSource(Channel(target=target)):
                pass
        with pytest.raises(TransportError, match="does not prove it knows the token"):
            async with GrpcToolSource(Channel(target=target, token="wrong")):
                pass
        async with GrpcToolSource(Channel(target=target, token="s3cret")) as source:
            assert (await source.tools()[0].call({"text": "ok"})).content == "ok"
        channel = Channel(target=target).open()
        try:
            good = await describe(channel, token="s3cret")
            bad = await describe(channel, token="other")
            assert good.proven and good.token_required and good.instance == "unit"
            assert not bad.proven
            assert await health_check(channel)
        finally:
            await channel.close()


async def test_limits_give_clear_errors() -> None:
    limits = Limits(max_argument_bytes=200, max_result_bytes=100, call_timeout=0.2)
    async with serving(limits=limits) as (_, port), GrpcToolSource(_plain(port)) as source:
        echo, big, slow = source.tools()
        result = await echo.call({"text": "x" * 500})
        assert result.is_error and "RESOURCE_EXHAUSTED" in result.content
        assert "limits.max_argument_bytes" in result.content
        result = await big.call({"size": 1000})
        assert result.is_error and "RESOURCE_EXHAUSTED" in result.content
        assert "limits.max_result_bytes" in result.content
        result = await echo.call({"text": 5})
        assert result.is_error and "INVALID_ARGUMENT" in result.content
        result = await slow.call({})
        assert result.is_error and "DEADLINE_EXCEEDED" in result.content
        assert (await big.call({"size": 10})).content == "x" * 10


async def test_concurrent_calls_per_client_are_limited() -> None:
    limits = Limits(max_concurrent_calls=2, call_timeout=5)
    async with serving(limits=limits) as (_, port), GrpcToolSource(_plain(port)) as source:
        slow = source.tools()[2]
        results: list[ToolResult] = []

        async def call() -> None:
            results.append(await slow.call({}))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
            await eventually(lambda: bool(results))
            tg.cancel_scope.cancel()
        assert "RESOURCE_EXHAUSTED" in results[0].content
        assert "max_concurrent_calls" in results[0].content


def _self_signed(tmp: Path) -> TlsFiles:
    cert, key = self_signed_pem()
    return TlsFiles(cert=cert, key=key)


async def test_tls(tmp_path: Path) -> None:
    tls = _self_signed(tmp_path)
    async with serving(tls=tls, token="t") as (_, port):
        target = f"127.0.0.1:{port}"
        async with GrpcToolSource(Channel(target=target, ca=tls.cert, token="t")) as source:
            assert (await source.tools()[0].call({"text": "secure"})).content == "secure"
        with pytest.raises(TransportError, match="UNAVAILABLE"):
            async with GrpcToolSource(Channel(target=target, token="t")):
                pass
    assert grpc  # the module is what the server runs on
