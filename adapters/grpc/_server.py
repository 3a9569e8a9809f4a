"""The server side of ``brainjar.v1.ToolService``: any list of tools, over gRPC.

The tools come from a function read at every request, so a jar's or a tool
service's live tool set is what callers see. ``grpc.health.v1`` is served too,
without a token: it says only whether the service is up. Server reflection
(``grpc.reflection.v1alpha``) describes both services, also without a token (it
holds only the published .proto, never the tools), so grpcurl and grpcui need
no .proto file.

``serve_grpc`` (``_serving``) runs it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import grpc
from brainjar.adapters.grpc import tool_service_pb2 as pb

from brainjar._errors import BadArguments, ToolError
from brainjar.observe._tracing import remote_parent
from brainjar.protocols import ToolSource
from brainjar.tools import (
    InFlight,
    Tool,
    ToolPolicy,
    ToolResult,
    apply_policy,
    as_source,
    schema_problem,
)

from ._wire import PROTOCOL_VERSION, digest, proof, tool_messages

__all__ = ["Limits", "TlsFiles", "ToolServer"]

log = logging.getLogger("brainjar.grpc")

# The service's setting behind each limit a call can hit, for its error message.
_SETTINGS = {
    "timeout": " (limits.call_timeout)",
    "max_argument_bytes": " (limits.max_argument_bytes)",
    "max_result_bytes": " (limits.max_result_bytes)",
}


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
    _calls: InFlight = field(default_factory=InFlight, init=False, repr=False)
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
        return self._calls.running

    async def wait_idle(self) -> None:
        """Returns once no tool call runs."""
        await self._calls.wait_idle()

    def cut_off(self) -> None:
        """Cancels the tool calls still running; each ends with UNAVAILABLE."""
        self._calls.cut_off()

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
        with self._calls.track() as scope:  # cancelled by cut_off, when a stop's grace ran out
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
        if scope.cancelled_caught:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"{self.instance} stopped before {tool.name} finished: the call outlived the "
                "service's grace period for stopping; call it again once the service is back",
            )
        raise AssertionError  # abort raises; this tells the type checker
