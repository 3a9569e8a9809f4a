"""The client side of ``brainjar.v1.ToolService``: a remote service's tools as a tool source.

With a token, the client never sends it: it asks ``Describe`` for a session and
a proof that the service knows the token, then signs each request and checks the
service's MAC on each answer (``_auth``). An answer without that MAC is never
used, so an impostor, relaying or not, cannot offer tools under the service's name.
"""

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
from brainjar.observe._tracing import trace_headers
from brainjar.tools import ChangeSignal, Signalled, Tool, ToolResult

from ._auth import MacSession, is_stale
from ._wire import SERVICE_NAME, method_path, proof, stub

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
        token: the token the service must prove it knows; requests are signed with it
            (it never travels).
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
    session: MacSession | None = None


async def describe(channel: grpc.aio.Channel, *, token: str | None) -> Description:
    """Asks a service who it is; checks its proof that it knows ``token``.

    The session the proof covers is ``session`` (None unless proven): requests
    signed with it are good on this service only.

    Raises:
        grpc.aio.AioRpcError: the service did not answer.
    """
    nonce = os.urandom(16)
    client = stub(channel)
    reply = await client.Describe(pb.DescribeRequest(nonce=nonce), timeout=PROBE_TIMEOUT)
    session = bytes(reply.session)
    expected = proof(token or "", instance=reply.instance, nonce=nonce, session=session)
    proven = bool(token) and bool(session) and hmac.compare_digest(bytes(reply.proof), expected)
    return Description(
        instance=reply.instance,
        labels=dict(reply.labels),
        ports=dict(reply.ports),
        digest=reply.digest,
        version=reply.version,
        token_required=reply.token_required,
        proven=proven,
        session=MacSession(token or "", session) if proven else None,
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


class _Forged(Exception):
    """An answer without the service's MAC: it did not come from the token's holder."""


class GrpcToolSource(Signalled):
    """The tools of one ``brainjar.v1.ToolService``, kept current through ``WatchTools``.

    Args:
        channel: where the service listens and how to reach it.
        name: the source's name for people; default ``grpc:<target>``.
        connection: an open channel to use (and not close), e.g. the one a
            service's proof was checked on; default: a channel of its own.
        session: a session proven on ``connection`` (``describe``); default: one
            is opened when the channel has a token.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        name: str | None = None,
        connection: grpc.aio.Channel | None = None,
        session: MacSession | None = None,
    ) -> None:
        self.channel = channel
        self._name = name or f"grpc:{channel.target}"
        self._tools: list[Tool] = []
        self._changes = ChangeSignal()
        self._given = connection
        self._grpc: grpc.aio.Channel | None = None
        self._session = session
        self._stack: AsyncExitStack | None = None
        self.digest = ""

    @property
    def name(self) -> str:
        return self._name

    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def __aenter__(self) -> Self:
        self._grpc = self._given or self.channel.open()
        try:
            reply = await self._unary("ListTools", pb.ListToolsRequest(), OPEN_TIMEOUT)
        except (grpc.aio.AioRpcError, TransportError, _Forged) as exc:
            await self._close_channel()
            doing = f"listing the tools of {self.channel.target}"
            if isinstance(exc, grpc.aio.AioRpcError):
                raise _transport_error(exc, doing) from None
            raise TransportError(f"{doing}: {exc}") from None
        self._update(reply)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._close_channel)
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            tg.start_soon(self._watch)
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
            channel, self._grpc = self._grpc, None
            if channel is not None and channel is not self._given:
                await channel.close(CLOSE_GRACE)

    async def _prove(self) -> MacSession:
        """A new session on this channel, once the service proves it knows the token."""
        assert self._grpc is not None and self.channel.token
        found = await describe(self._grpc, token=self.channel.token)
        if found.session is None:
            raise TransportError(
                f"{self.channel.target} ({found.instance!r}) does not prove it knows the token "
                "(an impostor, or a service with another token or none); nothing was sent to "
                "it: check the address and the token"
            )
        self._session = found.session
        return found.session

    async def _signed(self, method: str, request: Any) -> tuple[MacSession | None, int, Any]:
        """The session, sequence number and metadata to send ``request`` with."""
        if not self.channel.token:
            return None, 0, ()
        session = self._session or await self._prove()
        seq, metadata = session.sign(method_path(method), request)
        return session, seq, metadata

    async def _unary(self, method: str, request: Any, limit: float) -> Any:
        """Calls ``method``; checks the answer's MAC; opens a new session once if asked to.

        Raises:
            grpc.aio.AioRpcError: the call failed.
            TransportError: the service did not prove it knows the token.
            _Forged: the answer was not sealed by the token's holder.
        """
        assert self._grpc is not None
        call = getattr(stub(self._grpc), method)
        for attempt in (0, 1):
            session, seq, metadata = await self._signed(method, request)
            metadata = (*metadata, *trace_headers().items())  # the W3C trace context
            try:
                reply = await call(request, timeout=limit, metadata=metadata)
            except grpc.aio.AioRpcError as exc:
                if attempt == 0 and session is not None and is_stale(exc):
                    self._session = None
                    continue
                raise
            if session is not None and not session.check(method_path(method), seq, reply):
                raise _Forged(f"the answer to {method} does not carry the service's MAC")
            return reply
        raise AssertionError  # the loop returns or raises

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
        request = pb.CallToolRequest(name=name, arguments_json=json.dumps(arguments))
        try:
            reply = await self._unary("CallTool", request, CALL_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            return ToolResult.error(f"{name} on {self._name} failed: {_status(exc)}")
        except (TransportError, _Forged) as exc:
            log.warning("%s: %s", self._name, exc)
            return ToolResult.error(f"{name} on {self._name} failed: {exc}; its answer is not used")
        data = json.loads(reply.data_json) if reply.data_json else None
        return ToolResult(content=reply.content, is_error=reply.is_error, data=data)

    async def _watch(self) -> None:
        method = method_path("WatchTools")
        attempt = 0
        while True:
            try:
                assert self._grpc is not None
                request = pb.WatchToolsRequest()
                session, seq, metadata = await self._signed("WatchTools", request)
                stream = stub(self._grpc).WatchTools(request, metadata=metadata)
                try:
                    index = 0
                    async for reply in stream:
                        if session is not None and not session.check(
                            method, seq, reply, index=index
                        ):
                            raise _Forged("a WatchTools answer does not carry the service's MAC")
                        index += 1
                        attempt = 0
                        if reply.digest != self.digest:
                            self._update(reply)
                            names = [t.name for t in reply.tools]
                            log.info("%s: tools changed: %s", self._name, names)
                finally:
                    stream.cancel()
            except grpc.aio.AioRpcError as exc:
                if is_stale(exc):
                    self._session = None
                log.debug("%s: watch ended: %s", self._name, _status(exc))
            except (TransportError, _Forged) as exc:
                log.warning("%s: watch ended: %s", self._name, exc)
            await anyio.sleep(WATCH_BACKOFF[min(attempt, len(WATCH_BACKOFF) - 1)])
            attempt += 1


def _status(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"


def _transport_error(exc: grpc.aio.AioRpcError, doing: str) -> TransportError:
    if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
        return TransportError(f"{doing}: {_status(exc)}; check the token")
    return TransportError(f"{doing}: {_status(exc)}")
