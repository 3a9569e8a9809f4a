"""``brainjar run --workers N``: one jar's HTTP endpoints served by N processes.

The parent supervises the model process (one for all workers), reserves each
endpoint's port, and runs N workers, each ``brainjar run MANIFEST --serve`` under
the reaper with a ``BRAINJAR_WORKER`` role (see ``brainjar._worker``): the
workers listen on the same ports with ``SO_REUSEPORT``, so the kernel spreads
connections over them, and each takes its share of ``max_concurrency`` and
``max_queue``. Each worker has its own tools (an MCP server command runs once per
worker); their metrics are kept in one temporary folder, so a scrape of any
worker counts them all.

Stopping (SIGTERM, Ctrl-C): each worker gets one SIGTERM and drains as a single
jar does; then the model process stops. A worker that exits on its own stops
the rest: whoever runs brainjar (systemd, Kubernetes) restarts the whole.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from brainjar._errors import ManifestError
from brainjar._worker import (
    METRICS_VARIABLE,
    WORKER_VARIABLE,
    WorkerRole,
    publish_model_state,
)
from brainjar.http import reserve
from brainjar.jar import Jar

from ._endpoints import http_config

if TYPE_CHECKING:
    from brainjar.process._supervisor import SupervisedProcess

__all__ = ["check_workers", "serve_workers"]

# Beyond the drain grace: how long a worker may take to stop before SIGKILL.
STOP_MARGIN = 5.0


def check_workers(jar: Jar, workers: int) -> None:
    """Refuses a jar that N processes cannot serve as one.

    Raises:
        ManifestError: no endpoints, an MCP or gRPC endpoint (their sessions and
            streams live in one process), or limits smaller than ``workers``.
    """
    endpoints = jar.manifest.spec.endpoints
    if not endpoints:
        raise ManifestError(f"--workers serves endpoints, and {jar.name} has none")
    for entry in endpoints:
        config = http_config(entry)
        if config is None:
            kind = type(entry).__name__.removesuffix("Endpoint").lower()
            raise ManifestError(
                f"--workers serves OpenAI and Ollama endpoints only, and {jar.name} has a "
                f"{kind} endpoint (its sessions live in one process); serve it with one "
                "process, or move it to a manifest of its own"
            )
        if config.max_concurrency < workers:
            raise ManifestError(
                f"max_concurrency {config.max_concurrency} cannot be shared by {workers} "
                "workers (each needs one at least); raise it, or use fewer workers"
            )


async def serve_workers(
    manifest: Path,
    jar: Jar,
    *,
    workers: int,
    grace: float,
    on_ready: Callable[[str, str], None],
    on_event: Callable[[dict[str, Any]], None],
    stopped: anyio.Event,
) -> None:
    """Runs the model process and ``workers`` workers until ``stopped`` is set.

    Args:
        manifest: the manifest's path, for the workers' command line.
        jar: the loaded (not opened) jar.
        workers: how many worker processes.
        grace: seconds a worker may take to drain once stopped.
        on_ready: called with (kind, url) per endpoint, once every worker listens.
        on_event: receives each worker's JSON events, with ``worker`` added.
        stopped: set by the caller to stop (a signal).

    Raises:
        ManifestError: see ``check_workers``.
        TransportError: a port cannot be had.
        ProcessError: the model process or a worker failed.
    """
    from brainjar._errors import ProcessError
    from brainjar.jar._model import model_process_spec, served_endpoint
    from brainjar.process._process import running
    from brainjar.process._supervisor import supervise

    check_workers(jar, workers)
    spec = jar.manifest.spec
    configs = [http_config(e) for e in spec.endpoints]
    with ExitStack() as held:
        reserved = [
            held.enter_context(reserve(c.host, c.port, what="--workers"))
            for c in configs
            if c is not None  # check_workers let no other endpoint through
        ]
        ports = tuple(int(s.getsockname()[1]) for s in reserved)
        # Fresh for each run: values left from an earlier one would be counted again.
        metrics = held.enter_context(tempfile.TemporaryDirectory(prefix="brainjar-metrics-"))
        async with AsyncExitStack() as stack:
            model: str | None = None
            process_spec = model_process_spec(spec.model, base_dir=jar.base_dir)
            process = None
            if process_spec is not None:
                process = await stack.enter_async_context(supervise(process_spec, log=jar.log))
                model = served_endpoint(spec.model, process)
            listening: dict[int, list[tuple[str, str]]] = {}  # worker: its (kind, url)s
            all_listening = anyio.Event()
            exited = anyio.Event()
            failures: list[str] = []

            def lines_of(index: int) -> Callable[[str], None]:
                def on_line(line: str) -> None:
                    if not line.startswith("{"):
                        print(f"[worker {index}] {line}", file=sys.stderr, flush=True)
                        return
                    try:
                        event = json.loads(line)
                    except ValueError:
                        print(f"[worker {index}] {line}", file=sys.stderr, flush=True)
                        return
                    if event.get("type") == "listening":
                        listening.setdefault(index, []).append((event["endpoint"], event["url"]))
                        if len(listening) == workers and all(
                            len(urls) == len(configs) for urls in listening.values()
                        ):
                            all_listening.set()
                        return
                    on_event({**event, "worker": index})

                return on_line

            async def watch(index: int, worker: Any) -> None:
                code = await worker.wait()
                if not stopped.is_set():
                    failures.append(f"worker {index} exited with status {code}")
                exited.set()

            command = [sys.executable, "-m", "brainjar", "run", str(manifest), "--serve"]
            command += ["--json", "--force", "--grace", f"{grace:g}"]
            started: list[Any] = []
            async with anyio.create_task_group() as tg, AsyncExitStack() as running_workers:
                if process is not None:  # written before a worker can be scraped
                    tg.start_soon(_publish, process, metrics)
                for index in range(workers):
                    role = WorkerRole(
                        index=index, workers=workers, model=model, ports=ports, metrics=metrics
                    )
                    env = {**os.environ, WORKER_VARIABLE: role.to_env(), METRICS_VARIABLE: metrics}
                    worker = await running_workers.enter_async_context(
                        running(
                            command,
                            env=env,
                            cwd=None,
                            grace=grace + STOP_MARGIN,
                            on_line=lines_of(index),
                        )
                    )
                    started.append(worker)
                    tg.start_soon(watch, index, worker)

                async def announce() -> None:
                    await all_listening.wait()
                    for kind, url in listening[0]:  # every worker listens on the same URLs
                        on_ready(kind, url)

                tg.start_soon(announce)
                async with anyio.create_task_group() as waiting:

                    async def until(event: anyio.Event) -> None:
                        await event.wait()
                        waiting.cancel_scope.cancel()

                    waiting.start_soon(until, stopped)
                    waiting.start_soon(until, exited)
                for worker in started:  # all drain at once; leaving `running` waits for each
                    if worker.returncode is None:
                        worker.send_signal(signal.SIGTERM)
                tg.cancel_scope.cancel()
            if failures:
                raise ProcessError(
                    f"{failures[0]}; the other workers and the model were stopped "
                    "(the worker's log is above)"
                )


async def _publish(process: SupervisedProcess, folder: str) -> None:
    """Writes the model process's state for the workers' metrics at each change."""
    while True:
        seen = process.version
        publish_model_state(folder, process.state, process.restarts)
        await process.wait_changed(seen)
