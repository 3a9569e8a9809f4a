"""`brainjar mcp`, `serve-tools` and `discover`: the commands that face the mesh and IDEs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import (
    DEFAULT_GRACE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ForceOpt,
    ManifestArg,
    _fail,
    _load,
    _run_async,
)

# feature commands (each imports its implementation lazily)


def mcp(
    manifest: ManifestArg,
    transport: Annotated[
        str, typer.Option(help="stdio (for IDEs) or http (streamable HTTP)")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="http: where to listen")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: the port; 0 picks a free one")] = 0,
    path: Annotated[str, typer.Option(help="http: the MCP endpoint's path")] = "/mcp",
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="http: on SIGTERM or Ctrl-C, how long tool calls in flight may take "
            "to finish before they are cut off",
        ),
    ] = DEFAULT_GRACE,
    force: ForceOpt = False,
) -> None:
    """Serve the jar over MCP: its tools, and the jar itself as ask_<name>."""
    if transport not in ("stdio", "http"):
        raise _fail(f"--transport must be stdio or http, not {transport!r}", EXIT_USAGE)
    _load(manifest, force=force)  # a bad manifest (or one too big): exit 2 before anything starts

    async def main() -> int:
        from functools import partial

        from brainjar.serve import serve_jar_mcp

        if transport == "stdio":  # ends with stdin; signals keep their default meaning
            await serve_jar_mcp(manifest, transport="stdio")
            return 0
        serve = partial(serve_jar_mcp, manifest, transport="http", host=host, port=port)
        return await _until_signalled(partial(serve, path=path, grace=grace), grace=grace)

    _run_async(main)


async def _until_signalled(serve: Callable[[], Awaitable[None]], *, grace: float) -> int:
    """Runs ``serve`` until SIGTERM or SIGINT cancels it (it drains, within ``grace``).

    Returns:
        0 after SIGTERM, 130 after SIGINT; a second signal exits at once.
    """
    import signal

    import anyio

    stops: list[signal.Signals] = []
    serving = anyio.CancelScope()

    async def stop_on_signals(signals: AsyncIterator[signal.Signals]) -> None:
        async for signum in signals:
            if stops:  # a second signal: the user will not wait for the drain
                sys.stderr.write(f"brainjar: {signum.name} again: stopping at once\n")
                sys.stderr.flush()
                os._exit(128 + signum)
            stops.append(signum)
            sys.stderr.write(
                f"brainjar: {signum.name}: draining: calls in flight may take "
                f"{grace:g}s to finish (send the signal again to stop at once)\n"
            )
            serving.cancel()

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signals, signals)
            with serving:
                await serve()
            tg.cancel_scope.cancel()
    return EXIT_INTERRUPTED if stops and stops[0] == signal.SIGINT else 0


def serve_tools(
    manifest: ManifestArg,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON event per line")] = False,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="on SIGTERM or Ctrl-C, how long calls in flight may take to finish "
            "before they are cut off (default: the manifest's stop_grace)",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            metavar="PORT",
            help="serve Prometheus /metrics (calls, errors, latency per tool) on this port",
        ),
    ] = None,
) -> None:
    """Serve a ToolService manifest's tools over gRPC (and MCP), announced by mDNS."""
    from brainjar._errors import ManifestError
    from brainjar.serve._toolservice import load_tool_service

    try:
        service = load_tool_service(manifest)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None

    def show(event: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(event), flush=True)
        elif event["type"] in ("listening", "announced", "goodbye", "draining"):
            detail = event.get("url") or event.get("name") or event.get("signal")
            print(f"{service.metadata.name}: {event['type']} {detail}", file=sys.stderr)

    async def main() -> int:
        import signal
        from functools import partial

        import anyio

        from brainjar.serve._toolservice import serve_tools as run

        base = manifest.parent.resolve()
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as tg:
                await tg.start(
                    partial(
                        run,
                        service,
                        base_dir=base,
                        on_event=show,
                        grace=grace,
                        metrics_port=metrics_port,
                    )
                )
                show({"type": "ready"})
                async for signum in signals:  # stop gracefully: goodbye, finish calls, close
                    show({"type": "draining", "signal": signum.name})
                    tg.cancel_scope.cancel()
                    break
        show({"type": "stopped"})
        return 0

    _run_async(main)


def discover(
    as_json: Annotated[bool, typer.Option("--json", help="JSON snapshots")] = False,
    interface: Annotated[
        list[str] | None,
        typer.Option("--interface", help="address or interface name to browse on, or all"),
    ] = None,
    loopback: Annotated[bool, typer.Option("--loopback", help="browse on 127.0.0.1")] = False,
    selector: Annotated[
        list[str] | None, typer.Option("--selector", "-l", help="label=value to match")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option(help="instance names to trust")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="BRAINJAR_TOKEN", help="token services must prove")
    ] = None,
    static: Annotated[list[str] | None, typer.Option(help="host:port to check too")] = None,
    file: Annotated[Path | None, typer.Option(help="a file of host:port lines")] = None,
    wait: Annotated[float, typer.Option(help="--json: seconds to browse first")] = 3.0,
    follow: Annotated[bool, typer.Option(help="--json: a snapshot per change")] = False,
    dns: Annotated[
        list[str] | None,
        typer.Option(
            "--dns",
            metavar="NAME",
            help="an SRV name to read services from, e.g. _grpc._tcp.tools.default.svc."
            "cluster.local (no mDNS then, unless --interface or --loopback)",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            metavar="HOST:PORT", help="--dns: the DNS server to ask (default: the system's)"
        ),
    ] = None,
) -> None:
    """Show the tool services on the network (default: loopback only) and who is trusted."""
    from brainjar.cli._discover import dns_settings
    from brainjar.registry import DiscoverSettings

    pairs = [item.partition("=") for item in selector or []]
    if any(not sep for _, sep, _ in pairs):
        raise _fail("--selector takes label=value, e.g. --selector team=docs", EXIT_USAGE)
    interfaces = [*(interface or []), *(["127.0.0.1"] if loopback else [])]
    config = DiscoverSettings(
        selector={k: v for k, _, v in pairs},
        allow=allow or [],
        token=token,
        static=static or [],
        file=file,
        interfaces=interfaces or None,
        dns=dns_settings(dns, server=server),
        multicast=not dns or bool(interfaces),
    )

    async def main() -> int:
        from brainjar.cli._discover import discover as run

        code: int = await run(config, as_json=as_json, wait=wait, follow=follow)
        return code

    _run_async(main)
