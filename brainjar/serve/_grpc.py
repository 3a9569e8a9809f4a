"""A jar's tools over gRPC: the ``endpoints: - grpc:`` entry of a Jar manifest."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskStatus

from brainjar.adapters.grpc import ToolServer, serve_grpc
from brainjar.manifest import GrpcEndpointConfig

if TYPE_CHECKING:
    from brainjar.jar import Jar

__all__ = ["GrpcEndpoint", "grpc_endpoint"]


class GrpcEndpoint:
    """Serves a jar's live tool set as ``brainjar.v1.ToolService`` until cancelled."""

    def __init__(self, config: GrpcEndpointConfig) -> None:
        self.config = config

    async def serve(self, jar: Jar, *, task_status: TaskStatus[str]) -> None:
        """Serves ``jar.tools()``; reports ``grpc://host:port`` once listening."""
        server = ToolServer(
            tools=jar.tools,
            instance=jar.name,
            labels=jar.manifest.metadata.labels,
            token=self.config.token,
        )
        host = self.config.host
        async with anyio.create_task_group() as tg:
            port = await tg.start(partial(serve_grpc, server, host=host, port=self.config.port))
            task_status.started(f"grpc://{host}:{port}")


def grpc_endpoint(config: GrpcEndpointConfig) -> GrpcEndpoint:
    """The endpoint a Jar manifest's ``grpc:`` entry describes."""
    return GrpcEndpoint(config)
