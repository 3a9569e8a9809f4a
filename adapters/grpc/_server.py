"""The server side of ``brainjar.v1.ToolService``: any list of tools, over gRPC.

The tools come from a function read at every request, so a jar's or a tool
service's live tool set is what callers see. ``grpc.health.v1`` is served too,
without a token: it says only whether the service is up. Server reflection
(``grpc.reflection.v1alpha``) describes both services, also without a token (it
holds only the published .proto, never the tools), so grpcurl and grpcui need
no .proto file.

Stopping: health turns NOT_SERVING, new calls are refused, calls in flight get
the grace period; one still running after it ends with UNAVAILABLE and a message,
not a dropped connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import grpc
from anyio.abc import TaskStatus
from brainjar.adapters.grpc import tool_service_pb2 as pb
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from brainjar._errors import BadArguments, ToolError, TransportError
from brainjar.observe._tracing import remote_parent
from brainjar.protocols import ToolSource
from brainjar.tools import Tool, ToolPolicy, ToolResult, apply_policy, as_source, schema_problem

from ._auth import TokenInterceptor
from ._wire import PROTOCOL_VERSION, SERVICE_NAME, add_servicer, digest, proof, tool_messages

__all__ = ["Limits", "TlsFiles", "ToolServer", "serve_grpc"]

log = logging.getLogger("brainjar.grpc")

# How long a stopping server lets calls in flight finish, by default.
STOP_GRACE = 5.0
# After the grace, how long calls cut off get to send their UNAVAILABLE status.
CUT_OFF_MARGIN = 1.0
# The service's setting behind each limit a call can hit, for its error message.
_SETTINGS = {
    "timeout": " (limits.call_timeout)",
    "max_argument_bytes": " (limits.max_argument_bytes)",
    "max_result_bytes": " (limits.max_result_bytes)",
}
# The services server reflection describes (reflection lists itself too).
REFLECTED = (
    SERVICE_NAME,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)
REFLECTION_METHOD = f"/{reflection.SERVICE_NAME}/ServerReflectionInfo"
# Room for the message framing around the arguments' JSON.
_ENVELOPE_BYTES = 4096


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one call may take.

    Attributes:
        max_argument_bytes: the arguments' JSON, in bytes.
        max_result_bytes: the result's content plus structured data, in bytes.
        call_timeout: seconds a call may run; a caller's shorter deadline wins.
        max_concurrent_calls: calls at once from one client (one connection).
    """

    max_argument_bytes: int = 64 * 1024
    max_result_bytes: int = 1024 * 1024
    call_timeout: float = 30.0
    max_concurrent_calls: int = 8

    @property
    def policy(self) -> ToolPolicy:
        """The per-call policy: an oversized result is refused, not cut."""
        return ToolPolicy(
            timeout=self.call_timeout,
            max_argument_bytes=self.max_argument_bytes,
            max_result_bytes=self.max_result_bytes,
            truncate_results=False,
        )


@dataclass(frozen=True, kw_only=True)
class TlsFiles:
    """A PEM certificate chain and its private key."""

    cert: bytes
    key: bytes


@dataclass(kw_only=True)
class ToolServer:
    """The servicer; ``serve_grpc`` runs it.

    Attributes:
        tools: the tool source (or a function returning the tools offered now).
        instance: the service's name, as announced.
        labels: the service's labels, as announced.
        ports: transport name to port, filled in as each transport listens.
        token: the shared token, or None. brainjar clients prove they know it and MAC
            every request with it (it never travels); other clients (grpcurl) may
            still send it as ``authorization: Bearer <token>``.
        limits: what one call may take.
    """

    tools: ToolSource | Callable[[], Sequence[Tool]]
    instance: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    token: str | None = None
    limits: Limits = field(default_factory=Limits)
    _changed: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _stopping: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _in_flight: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _running: set[anyio.CancelScope] = field(default_factory=set, init=False, repr=False)
    _idle: anyio.Event = field(default_factory=anyio.Event, init=False, repr=False)
    _last_digest: str = field(default="", init=False, repr=False)
    source: ToolSource = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.source = as_source(self.tools, name=self.instance)

    def offered(self) -> Sequence[Tool]:
        """The tools offered now."""
        return self.source.tools()

    def digest(self) -> str:
        """The digest of the tools offered now."""
        return digest(self.offered())

    def notify_if_changed(self) -> bool:
        """Wakes the watchers if the tool list changed since last asked; says whether it did."""
        now = self.digest()
        if now == self._last_digest:
            return False
        self._last_digest = now
        self._changed.set()
        self._changed = anyio.Event()
        return True

    def stop_watchers(self) -> None:
        """Ends every WatchTools stream, so a graceful stop need not wait for them."""
        self._stopping.set()

    @property
    def running(self) -> int:
        """How many tool calls run now."""
        return len(self._running)

    async def wait_idle(self) -> None:
        """Returns once no tool call runs."""
        while self._running:
            await self._idle.wait()

    def cut_off(self) -> None:
        """Cancels the tool calls still running; each ends with UNAVAILABLE."""
        for scope in list(self._running):
            scope.cancel()

    async def Describe(
        self, request: pb.DescribeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DescribeResponse:
        nonce = bytes(request.nonce)[:64]
        return pb.DescribeResponse(
            instance=self.instance,
            labels=dict(self.labels),
            ports=dict(self.ports),
            digest=self.digest(),
            version=PROTOCOL_VERSION,
            proof=proof(self.token, instance=self.instance, nonce=nonce) if self.token else b"",
            token_required=self.token is not None,
        )

    async def ListTools(
        self, request: pb.ListToolsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListToolsResponse:
        tools = self.offered()
        return pb.ListToolsResponse(tools=tool_messages(tools), digest=digest(tools))

    async def WatchTools(
        self, request: pb.WatchToolsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.ListToolsResponse]:
        sent = None
        while not self._stopping.is_set():
            # Take the event before reading the list: a change while we read or yield
            # sets this event, rather than one made after it, and is not missed.
            changed = self._changed
            tools = self.offered()
            now = digest(tools)
            if now != sent:
                sent = now
                yield pb.ListToolsResponse(tools=tool_messages(tools), digest=now)
            async with anyio.create_task_group() as tg:

                async def stop_on(event: anyio.Event) -> None:
                    await event.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(stop_on, changed)
                tg.start_soon(stop_on, self._stopping)

    async def CallTool(
        self, request: pb.CallToolRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CallToolResponse:
        limits = self.limits
        size = len(request.arguments_json.encode())
        if size > limits.max_argument_bytes:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the arguments of {request.name} are {size} bytes; {self.instance} takes at "
                f"most {limits.max_argument_bytes} (limits.max_argument_bytes)",
            )
        tool = next((t for t in self.offered() if t.name == request.name), None)
        if tool is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"{self.instance} has no tool {request.name!r}"
            )
            raise AssertionError  # abort raises; this tells the type checker
        problem: str | None
        try:
            arguments = json.loads(request.arguments_json or "{}")
        except ValueError as exc:
            arguments, problem = None, f"not JSON: {exc}"
        else:
            problem = (
                schema_problem(tool.parameters, arguments)
                if isinstance(arguments, dict)
                else "not a JSON object"
            )
        if problem is not None or not isinstance(arguments, dict):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"the arguments of {tool.name} are not valid: {problem}",
            )
            raise AssertionError
        peer = context.peer() or "?"
        if self._in_flight.get(peer, 0) >= limits.max_concurrent_calls:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{self.instance} runs at most {limits.max_concurrent_calls} calls at once "
                "per client (limits.max_concurrent_calls); wait for one to finish",
            )
        self._in_flight[peer] = self._in_flight.get(peer, 0) + 1
        try:
            with remote_parent(context.invocation_metadata() or ()):  # the caller's trace
                result = await self._run(tool, arguments, context)
        finally:
            self._in_flight[peer] -= 1
            if not self._in_flight[peer]:
                del self._in_flight[peer]
        data = "" if result.data is None else json.dumps(result.data, default=str)
        size = len(result.content.encode()) + len(data.encode())
        if size > limits.max_result_bytes:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the result of {tool.name} is {size} bytes; {self.instance} sends at most "
                f"{limits.max_result_bytes} (limits.max_result_bytes)",
            )
        return pb.CallToolResponse(content=result.content, is_error=result.is_error, data_json=data)

    async def _run(
        self, tool: Tool, arguments: dict[str, Any], context: grpc.aio.ServicerContext[Any, Any]
    ) -> ToolResult:
        with anyio.CancelScope() as scope:  # cancelled by cut_off, when a stop's grace ran out
            if not self._running:
                self._idle = anyio.Event()
            self._running.add(scope)
            try:
                return await apply_policy(tool, self.limits.policy).call(arguments)
            except BadArguments as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except ToolError as exc:
                if exc.code == "UNKNOWN":  # the tool failed: a result the caller's model reads
                    return ToolResult.error(str(exc))
                setting = _SETTINGS.get(exc.limit or "", "")
                await context.abort(
                    getattr(grpc.StatusCode, exc.code), f"{exc} on {self.instance}{setting}"
                )
            finally:
                self._running.discard(scope)
                if not self._running:
                    self._idle.set()
        if scope.cancelled_caught:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"{self.instance} stopped before {tool.name} finished: the call outlived the "
                "service's grace period for stopping; call it again once the service is back",
            )
        raise AssertionError  # abort raises; this tells the type checker


async def serve_grpc(
    server: ToolServer,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsFiles | None = None,
    grace: float = STOP_GRACE,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves ``server`` and gRPC health until cancelled; then stops gracefully.

    On cancellation health says NOT_SERVING, the watch streams end, new calls are
    refused, and calls in flight get ``grace`` seconds to finish; those still
    running then end with UNAVAILABLE. Server reflection lists and describes the
    tool service and health.

    Args:
        server: the servicer.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        tls: a certificate and key; without them the port speaks plain gRPC.
        grace: seconds calls in flight may take to finish when stopping.
        task_status: receives the port once the server listens.

    Raises:
        TransportError: the port could not be bound.
    """
    limits = server.limits
    receive = limits.max_argument_bytes + _ENVELOPE_BYTES
    interceptors = []
    if server.token is not None:
        interceptors.append(
            TokenInterceptor(
                server.token,
                instance=lambda: server.instance,
                open_methods={f"/{SERVICE_NAME}/Describe", REFLECTION_METHOD},
            )
        )
    aio = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", receive),
            ("grpc.max_send_message_length", limits.max_result_bytes + _ENVELOPE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    add_servicer(server, aio)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, aio)
    reflection.enable_server_reflection(REFLECTED, aio)
    address = f"{host}:{port}"
    try:
        if tls is None:
            bound = aio.add_insecure_port(address)
        else:
            credentials = grpc.ssl_server_credentials([(tls.key, tls.cert)])
            bound = aio.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise TransportError(f"gRPC cannot listen on {address}: {exc}") from None
    if bound == 0:
        raise TransportError(f"gRPC cannot listen on {address}: is the port in use?")
    server.ports["grpc"] = bound
    # Serving from the first call answered: "" is the whole server, as grpc-health-probe asks.
    for name in ("", SERVICE_NAME):
        await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    await aio.start()
    server.notify_if_changed()
    try:
        task_status.started(bound)
        version = server.source.version
        while True:
            version = await server.source.wait_changed(version)
            server.notify_if_changed()
    finally:
        with anyio.CancelScope(shield=True):
            server.stop_watchers()
            await checker.enter_graceful_shutdown()
            await _drain(server, aio, grace=grace)


async def _drain(server: ToolServer, aio: grpc.aio.Server, *, grace: float) -> None:
    """Refuses new calls, lets those in flight finish within ``grace``, cuts off the rest."""
    async with anyio.create_task_group() as tg:
        # stop() refuses new calls at once; it cancels what is left only after the margin,
        # by when the calls cut off below have sent their status.
        tg.start_soon(aio.stop, grace + CUT_OFF_MARGIN)
        with anyio.move_on_after(grace):
            await server.wait_idle()
        if server.running:
            log.warning(
                "%s cuts off %d tool calls still running after its grace of %gs",
                server.instance,
                server.running,
                grace,
            )
            server.cut_off()
