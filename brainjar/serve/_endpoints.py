"""Serving a jar's endpoints: each started in one task group, each reporting its URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio

from brainjar._worker import WorkerRole, share, worker_role
from brainjar.jar import Jar
from brainjar.manifest import (
    EndpointEntry,
    GrpcEndpoint,
    HttpEndpointConfig,
    McpEndpoint,
    OllamaEndpoint,
    OpenAIEndpoint,
)
from brainjar.protocols import Endpoint

if TYPE_CHECKING:
    from brainjar.endpoints import HttpSettings

__all__ = ["build_endpoint", "http_config", "http_settings", "serve_endpoints"]


@runtime_checkable
class _Graceful(Protocol):
    """An endpoint that lets the work in flight finish within ``grace`` once stopped."""

    grace: float | None


def http_settings(config: HttpEndpointConfig) -> HttpSettings:
    """The HTTP endpoints' parameters for a manifest's ``openai:`` or ``ollama:`` entry."""
    from brainjar.endpoints import HttpSettings

    return HttpSettings(**config.model_dump())


def build_endpoint(
    entry: EndpointEntry, *, request_log: Callable[[dict[str, Any]], None] | None = None
) -> tuple[str, Endpoint]:
    """The endpoint one manifest entry describes, with its kind's name.

    Args:
        entry: the manifest's endpoint entry.
        request_log: receives one record per HTTP request (OpenAI and Ollama endpoints).
    """
    if isinstance(entry, OpenAIEndpoint):
        from brainjar.endpoints import openai_endpoint

        return "openai", openai_endpoint(http_settings(entry.openai), log=request_log)
    if isinstance(entry, OllamaEndpoint):
        from brainjar.endpoints import ollama_endpoint

        return "ollama", ollama_endpoint(http_settings(entry.ollama), log=request_log)
    if isinstance(entry, McpEndpoint):
        from ._mcp import mcp_endpoint

        return "mcp", mcp_endpoint(entry.mcp)
    if isinstance(entry, GrpcEndpoint):
        from ._grpc import grpc_endpoint

        return "grpc", grpc_endpoint(entry.grpc)
    raise TypeError(f"unknown endpoint {entry!r}")  # pragma: no cover


async def serve_endpoints(
    jar: Jar,
    *,
    entries: Sequence[EndpointEntry] | None = None,
    grace: float | None = None,
    on_ready: Callable[[str, str], None] = lambda kind, url: None,
    request_log: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Serves every endpoint of the jar until cancelled.

    Cancelled, the endpoints drain within ``grace``: the HTTP ones answer 503 to
    ``/readyz`` and new conversations while those in flight finish; the MCP and
    gRPC ones refuse new calls and let those in flight finish.

    Args:
        jar: an open jar.
        entries: the endpoints to serve; default: the manifest's.
        grace: seconds conversations in flight may take to finish once cancelled;
            default: the HTTP endpoints' ``STOP_GRACE``.
        on_ready: called with (kind, url) as each endpoint starts listening.
        request_log: receives one record per HTTP request.

    Raises:
        TransportError: an endpoint could not listen, or stopped by itself.
    """
    chosen = jar.manifest.spec.endpoints if entries is None else entries
    role = worker_role()
    if role is not None:
        chosen = [_as_worker(e, role, port) for e, port in zip(chosen, role.ports, strict=True)]
    built = [build_endpoint(e, request_log=request_log) for e in chosen]
    for _, endpoint in built:
        if grace is not None and isinstance(endpoint, _Graceful):
            endpoint.grace = grace
    try:
        async with anyio.create_task_group() as tg:
            for kind, endpoint in built:
                url = await tg.start(endpoint.serve, jar)
                on_ready(kind, str(url))
    except BaseExceptionGroup as group:
        raise _single(group) from None


def http_config(entry: EndpointEntry) -> HttpEndpointConfig | None:
    """The settings of an OpenAI or Ollama endpoint entry; None for MCP and gRPC."""
    if isinstance(entry, OpenAIEndpoint):
        return entry.openai
    if isinstance(entry, OllamaEndpoint):
        return entry.ollama
    return None


def _as_worker(entry: EndpointEntry, role: WorkerRole, port: int) -> EndpointEntry:
    """``entry`` as one of ``role.workers`` processes serves it: the parent's port, a share
    of the limits (so they hold for the whole jar)."""
    config = http_config(entry)
    if config is None:
        raise TypeError(f"a worker serves only OpenAI and Ollama endpoints, not {entry!r}")
    part = {"index": role.index, "workers": role.workers}
    mine = config.model_copy(
        update={
            "port": port,
            "max_concurrency": share(config.max_concurrency, **part),
            "max_queue": share(config.max_queue, **part),
        }
    )
    if isinstance(entry, OpenAIEndpoint):
        return OpenAIEndpoint(openai=mine)
    return OllamaEndpoint(ollama=mine)


def _single(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error in a task group's group (an endpoint that failed), or the group."""
    found: BaseException = group
    while isinstance(found, BaseExceptionGroup) and len(found.exceptions) == 1:
        found = found.exceptions[0]
    return found
