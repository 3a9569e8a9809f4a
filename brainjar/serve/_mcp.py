"""The jar as an MCP server: a manifest's ``mcp:`` endpoint, and ``brainjar mcp``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anyio
from anyio.abc import TaskStatus

from brainjar.adapters.mcp import McpGateway, build_mcp_server, serve_http, serve_stdio
from brainjar.manifest import McpEndpointConfig

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from brainjar.jar import Jar

__all__ = ["JarMcpEndpoint", "gateway_for_jar", "mcp_endpoint", "serve_jar_mcp"]

DEFAULT_INSTRUCTIONS = (
    "{name} is a language model with its own tools, run by brainjar. Call its tools "
    "directly, or ask it a question with {ask}."
)


def gateway_for_jar(jar: Jar) -> McpGateway:
    """An MCP server offering every tool the jar has now, and the jar as ``ask_<name>``."""
    metadata = jar.manifest.metadata
    gateway = build_mcp_server(
        jar.tools,
        name=metadata.name,
        version=metadata.version,
        ask=jar.events,
        tool_timeout=jar.manifest.spec.loop.tool_timeout,
    )
    gateway.server.instructions = metadata.description or DEFAULT_INSTRUCTIONS.format(
        name=metadata.name, ask=gateway.ask_name
    )
    return gateway


class JarMcpEndpoint:
    """The ``mcp:`` endpoint of a manifest: the open jar over MCP until cancelled."""

    def __init__(self, config: McpEndpointConfig, *, grace: float | None = None) -> None:
        self.config = config
        # http: seconds requests in flight may take to finish once cancelled; None: the default.
        self.grace = grace

    async def serve(self, jar: Jar, *, task_status: TaskStatus[str]) -> None:
        """Serves ``jar``; reports the URL (or ``stdio``) through ``task_status``."""
        gateway = gateway_for_jar(jar)
        if self.config.transport == "stdio":
            await serve_stdio(gateway, task_status=task_status)
            return
        await serve_http(
            gateway,
            host=self.config.host,
            port=self.config.port,
            path=self.config.path,
            token=self.config.token,
            metrics=_metrics_of(jar),
            task_status=task_status,
            **({} if self.grace is None else {"grace": self.grace}),
        )


def _metrics_of(jar: Jar) -> CollectorRegistry | None:
    """The jar's Prometheus registry; None when the manifest turns metrics off."""
    metrics = jar.observer.metrics
    return None if metrics is None else metrics.registry


def mcp_endpoint(config: McpEndpointConfig) -> JarMcpEndpoint:
    """The endpoint one ``endpoints: - mcp: {...}`` entry describes."""
    return JarMcpEndpoint(config)


async def serve_jar_mcp(
    manifest: str | Path,
    *,
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/mcp",
    token: str | None = None,
    grace: float | None = None,
) -> None:
    """Loads a manifest, opens the jar and serves it over MCP until stdin ends or cancelled.

    Over ``http``, cancelling drains: requests in flight get ``grace`` seconds to finish.

    In stdio mode nothing but the protocol reaches stdout: from the start, fd 1
    points at stderr (for this process, its tools and every child), and the
    protocol goes to a copy of the original stdout. With ``http`` the URL is
    written to stderr.

    Raises:
        ManifestError: the manifest cannot be used.
    """
    from brainjar.jar import Jar

    _log_to_stderr()
    jar = Jar.load(manifest, log=lambda line: print(line, file=sys.stderr, flush=True))
    if transport == "stdio":
        with _protocol_streams() as (stdin, stdout):
            async with jar:
                await serve_stdio(gateway_for_jar(jar), stdin=stdin, stdout=stdout)
        return
    async with jar:
        gateway = gateway_for_jar(jar)
        async with anyio.create_task_group() as tg:
            url = await tg.start(
                partial(
                    serve_http,
                    gateway,
                    host=host,
                    port=port,
                    path=path,
                    token=token,
                    metrics=_metrics_of(jar),
                    **({} if grace is None else {"grace": grace}),
                )
            )
            print(f"{jar.name}: MCP on {url}", file=sys.stderr, flush=True)


@contextmanager
def _protocol_streams() -> Iterator[tuple[anyio.AsyncFile[str], anyio.AsyncFile[str]]]:
    """Moves stdin and stdout aside for the protocol; fd 0 reads nothing, fd 1 is stderr."""
    sys.stdout.flush()
    protocol_in, protocol_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    reader = open(protocol_in, encoding="utf-8", errors="replace", closefd=True)  # noqa: SIM115
    writer = open(protocol_out, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        yield anyio.wrap_file(reader), anyio.wrap_file(writer)
    finally:
        for handle in (writer, reader):
            with suppress(OSError, ValueError):
                handle.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


def _log_to_stderr() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.WARNING, format="brainjar: %(name)s: %(message)s"
        )
