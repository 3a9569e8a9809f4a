"""A jar's tools over gRPC: the ``endpoints: - grpc:`` entry of a Jar manifest."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus

from brainjar.adapters.grpc import ToolServer, serve_grpc
from brainjar.adapters.grpc._serving import STOP_GRACE
from brainjar.manifest import GrpcEndpointConfig

if TYPE_CHECKING:
    from brainjar.jar import Jar

__all__ = ["GrpcEndpoint", "grpc_endpoint"]


class GrpcEndpoint:
    """Serves a jar's live tool set as ``brainjar.v1.ToolService`` until cancelled.

    Cancelled, it refuses new calls and lets those in flight finish within ``grace``.
    """

    def __init__(self, config: GrpcEndpointConfig, *, grace: float | None = None) -> None:
        self.config = config
        # Seconds calls in flight may take to finish once cancelled; None: STOP_GRACE.
        self.grace = grace

    async def serve(self, jar: Jar, *, task_status: TaskStatus[str]) -> None:
        """Serves ``jar.tools()``; reports ``grpc://host:port`` once listening."""
        server = ToolServer(
            tools=jar.tools,
            instance=jar.name,
            labels=jar.manifest.metadata.labels,
            token=self.config.token,
        )
        host = self.config.host
        grace = STOP_GRACE if self.grace is None else self.grace
        serve = partial(serve_grpc, server, host=host, port=self.config.port, grace=grace)
        async with anyio.create_task_group() as tg:
            port = await tg.start(serve)
            task_status.started(f"grpc://{host}:{port}")


def grpc_endpoint(config: GrpcEndpointConfig) -> GrpcEndpoint:
    """The endpoint a Jar manifest's ``grpc:`` entry describes."""
    return GrpcEndpoint(config)
