"""``brainjar serve-tools``: a ToolService manifest's tools over gRPC (and MCP), announced.

Start: open the tools, listen on gRPC (and MCP streamable HTTP), then announce.
While running: when the tool list changes, watchers are told and the TXT record
is announced anew. Stop (cancellation, SIGTERM, SIGINT): say goodbye on mDNS,
refuse new calls, let calls in flight finish within the grace (``--grace``, by
default ``stop_grace``), end those still running with an error, then close.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from brainjar._errors import ManifestError
from brainjar.jar._sources import build_sources
from brainjar.manifest._load import load_manifest
from brainjar.manifest._toolservice import ToolServiceManifest
from brainjar.tools._toolset import ToolSet

__all__ = ["load_tool_service", "serve_tools"]

Event = dict[str, Any]


def load_tool_service(path: str | Path) -> ToolServiceManifest:
    """Reads a manifest of kind ToolService.

    Raises:
        ManifestError: the file is not a valid ToolService manifest.
    """
    manifest = load_manifest(path)
    if not isinstance(manifest, ToolServiceManifest):
        raise ManifestError(
            f"{path}: this is a {type(manifest).__name__}, not a ToolService; "
            "serve a jar with brainjar run, or write kind: ToolService"
        )
    return manifest


async def serve_tools(
    manifest: ToolServiceManifest,
    *,
    base_dir: Path,
    on_event: Callable[[Event], None] = lambda event: None,
    grace: float | None = None,
    metrics_port: int | None = None,
    task_status: TaskStatus[dict[str, int]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serves a ToolService until cancelled; reports its ports once announced.

    Args:
        manifest: what to serve.
        base_dir: the manifest's folder.
        on_event: gets ``listening``, ``announced``, ``tools``, ``goodbye``, ``stopped``.
        grace: seconds calls in flight may take to finish once cancelled;
            default: the manifest's ``stop_grace``.
        metrics_port: serve Prometheus ``/metrics`` (calls, errors, latency per tool)
            on this port of the service's host (0: a free one); None: not served.
        task_status: receives ``{"grpc": port, "mcp": port, "metrics": port}`` when ready.
    """
    from brainjar.adapters.grpc import Limits, TlsFiles, ToolServer, serve_grpc
    from brainjar.observe import ObservedTools

    spec, name = manifest.spec, manifest.metadata.name
    tls = None
    if spec.tls is not None:
        tls = TlsFiles(cert=spec.tls.cert.read_bytes(), key=spec.tls.key.read_bytes())
    lim = spec.limits
    grace = spec.stop_grace if grace is None else grace
    toolset = ObservedTools(ToolSet(build_sources(spec.tools, base_dir=base_dir)))
    async with toolset:
        limits = Limits(
            max_argument_bytes=lim.max_argument_bytes,
            max_result_bytes=lim.max_result_bytes,
            call_timeout=lim.call_timeout,
            max_concurrent_calls=lim.max_concurrent_calls,
        )
        server = ToolServer(
            tools=toolset,
            instance=name,
            labels=manifest.metadata.labels,
            token=spec.token,
            limits=limits,
        )
        async with anyio.create_task_group() as tg:
            port = await tg.start(
                partial(
                    serve_grpc,
                    server,
                    host=spec.host,
                    port=spec.grpc.port,
                    tls=tls,
                    grace=grace,
                )
            )
            scheme = "grpcs" if tls else "grpc"
            on_event(
                {"type": "listening", "transport": "grpc", "url": f"{scheme}://{spec.host}:{port}"}
            )
            if spec.mcp is not None:
                from brainjar.adapters.mcp import serve_tools_http

                url = await tg.start(
                    partial(
                        serve_tools_http,
                        toolset,
                        host=spec.host,
                        port=spec.mcp.port,
                        path=spec.mcp.path,
                        name=name,
                        version=manifest.metadata.version,
                        token=spec.token,
                        policy=limits.policy,
                        grace=grace,
                    )
                )
                server.ports["mcp"] = int(str(url).rsplit(":", 1)[1].split("/", 1)[0])
                on_event({"type": "listening", "transport": "mcp", "url": str(url)})
            on_event(
                {
                    "type": "tools",
                    "tools": [t.name for t in toolset.tools()],
                    "digest": server.digest(),
                }
            )
            metrics: dict[str, int] = {}  # not in server.ports: those are announced
            if metrics_port is not None:
                url = await tg.start(_serve_metrics, toolset, spec.host, metrics_port)
                metrics["metrics"] = int(str(url).rsplit(":", 1)[1].split("/", 1)[0])
                on_event({"type": "listening", "transport": "metrics", "url": str(url)})
            if spec.announce.enabled:
                await tg.start(_announce, server, manifest, on_event)
            task_status.started({**server.ports, **metrics})


async def _serve_metrics(
    tools: Any, host: str, port: int, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED
) -> None:
    from brainjar.http import serve_asgi
    from brainjar.observe import Observed

    async def nothing_else(scope: Any, receive: Any, send: Any) -> None:
        body = b"this port serves GET /metrics only\n"
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = Observed(nothing_else, registry=tools.registry)
    await serve_asgi(
        app,
        host=host,
        port=port,
        what="the metrics port",
        url_path="/metrics",
        task_status=task_status,
    )


async def _announce(
    server: Any,
    manifest: ToolServiceManifest,
    on_event: Callable[[Event], None],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    from brainjar.adapters.grpc import PROTOCOL_VERSION
    from brainjar.registry import Announcer, txt_properties

    spec = manifest.spec

    def properties() -> dict[str, str]:
        props: dict[str, str] = txt_properties(
            version=PROTOCOL_VERSION,
            ports=server.ports,
            digest=server.digest(),
            labels=manifest.metadata.labels,
            tls=spec.tls is not None,
            token=spec.token is not None,
            mcp_path=spec.mcp.path if spec.mcp else None,
        )
        return props

    announcer = Announcer(
        manifest.metadata.name,
        port=server.ports["grpc"],
        properties=properties(),
        interfaces=spec.announce.interfaces,
    )
    try:
        async with announcer:
            # A name taken on the network was changed; the service answers to the new one.
            server.instance = announcer.instance
            on_event(
                {
                    "type": "announced",
                    "name": announcer.instance,
                    "addresses": announcer.interfaces.addresses,
                }
            )
            task_status.started()
            version = server.source.version
            while True:
                version = await server.source.wait_changed(version)
                fresh = properties()
                if fresh != announcer.properties:
                    await announcer.update(fresh)
                    on_event(
                        {"type": "announced", "name": announcer.instance, "digest": fresh["digest"]}
                    )
    finally:
        on_event({"type": "goodbye", "name": announcer.instance})
