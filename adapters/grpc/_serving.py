"""Running a ``ToolServer``: the gRPC server, health, reflection, and a graceful stop.

Stopping: health turns NOT_SERVING, new calls are refused, calls in flight get
the grace period; one still running after it ends with UNAVAILABLE and a message,
not a dropped connection.
"""

from __future__ import annotations

import logging

import anyio
import grpc
from anyio.abc import TaskStatus
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from brainjar._errors import TransportError

from ._auth import TokenInterceptor
from ._server import TlsFiles, ToolServer
from ._wire import SERVICE_NAME, add_servicer

__all__ = ["CUT_OFF_MARGIN", "STOP_GRACE", "serve_grpc"]

log = logging.getLogger("brainjar.grpc")

# How long a stopping server lets calls in flight finish, by default.
STOP_GRACE = 5.0
# After the grace, how long calls cut off get to send their UNAVAILABLE status.
CUT_OFF_MARGIN = 1.0
# The services server reflection describes (reflection lists itself too).
REFLECTED = (
    SERVICE_NAME,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)
REFLECTION_METHOD = f"/{reflection.SERVICE_NAME}/ServerReflectionInfo"
# Room for the message framing around the arguments' JSON.
_ENVELOPE_BYTES = 4096


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
