"""The MAC scheme of ``brainjar.v1.ToolService`` on a real server on loopback: a signed
request works once; a tampered, replayed or wrongly keyed one is refused; a forged
or misplaced answer is caught; the token never travels; bearer clients still work."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import grpc
import pytest
from brainjar.adapters.grpc import Channel, GrpcToolSource, ToolServer, describe, serve_grpc
from brainjar.adapters.grpc import tool_service_pb2 as pb
from brainjar.adapters.grpc._auth import REPLAY_WINDOW, MacSession, Sessions, is_stale
from brainjar.adapters.grpc._wire import method_path, stub

from brainjar.tools import Tool, ToolResult

TOKEN = "s3cret"
CALL = method_path("CallTool")
LIST = method_path("ListTools")
TARGETS: dict[grpc.aio.Channel, str] = {}


async def _echo(arguments: dict[str, Any]) -> ToolResult:
    return ToolResult(content=str(arguments["text"]))


ECHO = Tool(
    name="echo",
    description="says it back",
    parameters={"type": "object", "properties": {"text": {"type": "string"}}},
    call=_echo,
)


def _request(text: str) -> pb.CallToolRequest:
    return pb.CallToolRequest(name="echo", arguments_json=json.dumps({"text": text}))


@asynccontextmanager
async def serving() -> AsyncIterator[grpc.aio.Channel]:
    """A token-holding service, and a plain channel to it (its target in ``TARGETS``)."""
    server = ToolServer(tools=lambda: [ECHO], instance="unit", token=TOKEN)
    async with anyio.create_task_group() as tg:
        port = await tg.start(partial(serve_grpc, server, grace=0.5))
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        TARGETS[channel] = f"127.0.0.1:{port}"
        try:
            yield channel
        finally:
            with anyio.CancelScope(shield=True):
                TARGETS.pop(channel, None)
                await channel.close()
            tg.cancel_scope.cancel()


async def _session(channel: grpc.aio.Channel, token: str = TOKEN) -> MacSession:
    found = await describe(channel, token=token)
    assert found.session is not None, found
    return found.session


async def _refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    return caught.value


async def test_a_signed_request_works_and_its_answer_is_sealed() -> None:
    async with serving() as channel:
        session = await _session(channel)
        request = _request("hi")
        seq, metadata = session.sign(CALL, request)
        reply = await stub(channel).CallTool(request, metadata=metadata)
        assert reply.content == "hi"
        assert session.check(CALL, seq, reply)
        assert all(key != "authorization" for key, _ in metadata)
        assert TOKEN not in repr(metadata)


async def test_a_replayed_request_is_refused() -> None:
    async with serving() as channel:
        session = await _session(channel)
        request = _request("once")
        _, metadata = session.sign(CALL, request)
        await stub(channel).CallTool(request, metadata=metadata)
        refused = await _refusal(stub(channel).CallTool(request, metadata=metadata))
        assert "seen request 0 of that session before" in str(refused.details())


async def test_a_tampered_request_is_refused() -> None:
    async with serving() as channel:
        session = await _session(channel)
        _, metadata = session.sign(CALL, _request("harmless"))
        refused = await _refusal(stub(channel).CallTool(_request("rm -rf"), metadata=metadata))
        assert "MAC" in str(refused.details())
        # A MAC made for one method is not good for another.
        _, listing = session.sign(LIST, pb.ListToolsRequest())
        await _refusal(stub(channel).CallTool(_request(""), metadata=listing))


async def test_a_wrong_token_proves_nothing_and_signs_nothing() -> None:
    async with serving() as channel:
        wrong = await describe(channel, token="guess")
        assert not wrong.proven and wrong.session is None
        real = await _session(channel)
        forged = MacSession("guess", real.session)
        request = _request("x")
        _, metadata = forged.sign(CALL, request)
        await _refusal(stub(channel).CallTool(request, metadata=metadata))
        with pytest.raises(Exception, match="does not prove it knows the token"):
            async with GrpcToolSource(Channel(target=_target(channel), token="guess")):
                pass


def _target(channel: grpc.aio.Channel) -> str:
    return TARGETS[channel]


async def test_a_forged_or_misplaced_answer_is_caught() -> None:
    async with serving() as channel:
        session = await _session(channel)
        first, second = _request("one"), _request("two")
        seq1, md1 = session.sign(CALL, first)
        seq2, md2 = session.sign(CALL, second)
        reply1 = await stub(channel).CallTool(first, metadata=md1)
        reply2 = await stub(channel).CallTool(second, metadata=md2)
        assert session.check(CALL, seq1, reply1) and session.check(CALL, seq2, reply2)
        assert not session.check(CALL, seq2, reply1)  # an old answer to a new question
        reply1.content = "forged"
        assert not session.check(CALL, seq1, reply1)
        other = MacSession(TOKEN, b"\0" * 16)
        assert not other.check(CALL, seq2, reply2)  # an answer from another session


async def test_an_unknown_session_asks_for_a_new_one_and_the_client_opens_it() -> None:
    async with serving() as channel:
        stale = MacSession(TOKEN, b"\1" * 16)
        request = _request("x")
        _, metadata = stale.sign(CALL, request)
        refused = await _refusal(stub(channel).CallTool(request, metadata=metadata))
        assert is_stale(refused)
        source = GrpcToolSource(
            Channel(target=_target(channel), token=TOKEN), connection=channel, session=stale
        )
        async with source:
            assert (await source.tools()[0].call({"text": "again"})).content == "again"


async def test_bearer_clients_still_work_but_brainjar_never_sends_a_bearer() -> None:
    async with serving() as channel:
        bearer = (("authorization", f"Bearer {TOKEN}"),)
        reply = await stub(channel).CallTool(_request("grpcurl"), metadata=bearer)
        assert reply.content == "grpcurl" and not reply.mac


def test_the_replay_window_and_the_session_bound() -> None:
    sessions = Sessions(limit=2)
    a = sessions.new()
    assert sessions.accept(a, 5) and not sessions.accept(a, 5)
    assert sessions.accept(a, 3)  # late, but within the window
    assert sessions.accept(a, 5 + REPLAY_WINDOW + 1)
    assert not sessions.accept(a, 4)  # fell out of the window: refused, not remembered forever
    assert not sessions.accept(a, -1)
    sessions.new()
    sessions.new()
    assert not sessions.known(a) and not sessions.accept(a, 100)
