"""The client side of ``brainjar.v1.ToolService``: a remote service's tools as a tool source."""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import anyio
import grpc
from brainjar.adapters.grpc import tool_service_pb2 as pb
from grpc_health.v1 import health_pb2, health_pb2_grpc

from brainjar._errors import TransportError
from brainjar.tools import ChangeSignal, Signalled, Tool, ToolResult

from ._wire import SERVICE_NAME, bearer, proof, stub

__all__ = ["Channel", "Description", "GrpcToolSource", "describe", "health_check"]

log = logging.getLogger("brainjar.grpc")

# Limit on connecting and listing the tools when a source opens.
OPEN_TIMEOUT = 10.0
# Limit on one call, beyond which the loop's own tool_timeout has long ended it.
CALL_TIMEOUT = 600.0
# Limit on Describe and on a health check.
PROBE_TIMEOUT = 2.0
# Waits between attempts to resume a broken WatchTools stream.
WATCH_BACKOFF = (0.2, 0.5, 1.0, 2.0)
# How long closing a channel lets calls in flight finish.
CLOSE_GRACE = 1.0


@dataclass(frozen=True, kw_only=True)
class Channel:
    """Where a service listens and how to reach it.

    Attributes:
        target: ``host:port``.
        token: the bearer token to send, or None.
        ca: PEM certificates to trust; set means TLS.
        tls: speak TLS, trusting the system's certificates unless ``ca`` is given.
        server_name: the name the certificate must carry, if not the host's.
    """

    target: str
    token: str | None = None
    ca: bytes | None = None
    tls: bool = False
    server_name: str | None = None

    def open(self) -> grpc.aio.Channel:
        """A new channel (the caller closes it)."""
        if self.ca is None and not self.tls:
            return grpc.aio.insecure_channel(self.target)
        options = [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
        credentials = grpc.ssl_channel_credentials(root_certificates=self.ca)
        return grpc.aio.secure_channel(self.target, credentials, options=options)


@dataclass(frozen=True, kw_only=True)
class Description:
    """What a service says about itself (``Describe``), and whether its proof held."""

    instance: str
    labels: dict[str, str]
    ports: dict[str, int]
    digest: str
    version: str
    token_required: bool
    proven: bool


async def describe(channel: grpc.aio.Channel, *, token: str | None) -> Description:
    """Asks a service who it is; checks its proof that it knows ``token``.

    Raises:
        grpc.aio.AioRpcError: the service did not answer.
    """
    nonce = os.urandom(16)
    client = stub(channel)
    reply = await client.Describe(pb.DescribeRequest(nonce=nonce), timeout=PROBE_TIMEOUT)
    proven = bool(token) and hmac.compare_digest(
        bytes(reply.proof), proof(token or "", instance=reply.instance, nonce=nonce)
    )
    return Description(
        instance=reply.instance,
        labels=dict(reply.labels),
        ports=dict(reply.ports),
        digest=reply.digest,
        version=reply.version,
        token_required=reply.token_required,
        proven=proven,
    )


async def health_check(channel: grpc.aio.Channel) -> bool:
    """Whether the service answers SERVING to ``grpc.health.v1`` within ``PROBE_TIMEOUT``."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=PROBE_TIMEOUT
        )
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


class GrpcToolSource(Signalled):
    """The tools of one ``brainjar.v1.ToolService``, kept current through ``WatchTools``.

    Args:
        channel: where the service listens and how to reach it.
        name: the source's name for people; default ``grpc:<target>``.
    """

    def __init__(self, channel: Channel, *, name: str | None = None) -> None:
        self.channel = channel
        self._name = name or f"grpc:{channel.target}"
        self._tools: list[Tool] = []
        self._changes = ChangeSignal()
        self._grpc: grpc.aio.Channel | None = None
        self._stack: AsyncExitStack | None = None
        self.digest = ""

    @property
    def name(self) -> str:
        return self._name

    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def __aenter__(self) -> Self:
        self._grpc = self.channel.open()
        client = stub(self._grpc)
        try:
            reply = await client.ListTools(
                pb.ListToolsRequest(), timeout=OPEN_TIMEOUT, metadata=bearer(self.channel.token)
            )
        except grpc.aio.AioRpcError as exc:
            await self._grpc.close()
            raise _transport_error(exc, f"listing the tools of {self.channel.target}") from None
        self._update(reply)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._close_channel)
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            tg.start_soon(self._watch, client)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tools = []
        self._changes.bump()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def _close_channel(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._grpc is not None:
                channel, self._grpc = self._grpc, None
                await channel.close(CLOSE_GRACE)

    def _update(self, reply: pb.ListToolsResponse) -> None:
        self.digest = reply.digest
        self._tools = [self._tool(t) for t in reply.tools]
        self._changes.bump()

    def _tool(self, message: pb.Tool) -> Tool:
        name = message.name

        async def call(arguments: dict[str, Any]) -> ToolResult:
            return await self._call(name, arguments)

        try:
            parameters = json.loads(message.parameters_json or "{}")
        except ValueError:
            parameters = {"type": "object"}
        return Tool(
            name=name,
            description=message.description,
            parameters=parameters if isinstance(parameters, dict) else {"type": "object"},
            call=call,
            source=self._name,
        )

    async def _call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        if self._grpc is None:
            return ToolResult.error(f"{name}: {self._name} is gone; the tool is no longer offered")
        client = stub(self._grpc)
        request = pb.CallToolRequest(name=name, arguments_json=json.dumps(arguments))
        try:
            reply = await client.CallTool(
                request, timeout=CALL_TIMEOUT, metadata=bearer(self.channel.token)
            )
        except grpc.aio.AioRpcError as exc:
            return ToolResult.error(f"{name} on {self._name} failed: {_status(exc)}")
        data = json.loads(reply.data_json) if reply.data_json else None
        return ToolResult(content=reply.content, is_error=reply.is_error, data=data)

    async def _watch(self, stub: Any) -> None:
        attempt = 0
        while True:
            try:
                stream = stub.WatchTools(
                    pb.WatchToolsRequest(), metadata=bearer(self.channel.token)
                )
                async for reply in stream:
                    attempt = 0
                    if reply.digest != self.digest:
                        self._update(reply)
                        log.info("%s: tools changed: %s", self._name, [t.name for t in reply.tools])
            except grpc.aio.AioRpcError as exc:
                log.debug("%s: watch ended: %s", self._name, _status(exc))
            await anyio.sleep(WATCH_BACKOFF[min(attempt, len(WATCH_BACKOFF) - 1)])
            attempt += 1


def _status(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"


def _transport_error(exc: grpc.aio.AioRpcError, doing: str) -> TransportError:
    if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
        return TransportError(f"{doing}: {_status(exc)}; check the token")
    return TransportError(f"{doing}: {_status(exc)}")
