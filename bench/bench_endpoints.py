"""Load on a jar's OpenAI-compatible endpoint, beside the scripted model it runs on.

Three processes on loopback: the scripted model (``python -m brainjar.testing``,
script: one tool call, then a reply, repeated), the jar serving its OpenAI
endpoint (this file with ``--serve``), and this process as the load: SESSIONS
concurrent sessions, each sending one conversation after another for SECONDS.

The same client (httpx) first measures the scripted model directly, then the
jar. A jar conversation is two model round trips (tool call, then answer) plus
the tool and the jar's own work, so the jar's added latency is reported as
jar - 2 x model. Errors must be 0. Peak memory is the jar process's VmHWM.

A third part measures one model round trip, one session at a time, behind
(a) nothing, (b) a bare relay: the least any Python gateway on these libraries
does (aiohttp's server and client on uvloop, the request's bytes passed on and
the model's answer passed back, no parsing), the floor under (c) the jar with no
tools (a pure pass-through conversation), and (d) LiteLLM's proxy, the gateway a
user would otherwise put in front of a model. Each row also shows the CPU time per
request of the process the client talks to, steadier than wall time on a shared
machine.
LiteLLM's proxy needs ``mcp<2``, which brainjar cannot share an environment
with, so ``--litellm`` makes (once) a virtualenv of its own for it under the
user's cache folder, from the package index pip is configured with.

    python bench/bench_endpoints.py [--sessions 200] [--seconds 20] [--stream] [--litellm]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx

SCRIPT = {
    "steps": [{"call": {"name": "add", "arguments": {"a": 2, "b": 3}}}, {"reply": "It is 5."}],
    "repeat": True,
}
# The pass-through part: every request gets one reply.
REPLY_ONLY = {"steps": [{"reply": "It is 5."}], "repeat": True}
LITELLM = "litellm[proxy]==1.83.0"
LITELLM_CONFIG = """\
model_list:
  - model_name: scripted
    litellm_params: {{model: openai/scripted, api_base: "{endpoint}", api_key: not-needed}}
"""
MANIFEST = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {{name: bench}}
spec:
  model: {{backend: openai, endpoint: "{endpoint}", name: scripted}}
  loop: {{transcripts: false}}
"""
# How long a child process may take to print its URL.
START_LIMIT = 30.0
# LiteLLM's proxy imports a great deal before it answers.
LITELLM_START_LIMIT = 180.0
# Per-request limit of the load client: a request slower than this is an error.
REQUEST_LIMIT = 60.0


def serve_jar(manifest: str, sessions: int, *, tools: bool = True) -> None:
    """The ``--serve`` mode: the jar and its OpenAI endpoint, until SIGTERM."""
    from brainjar import Tool, ToolResult
    from brainjar._aio import run
    from brainjar.endpoints import HttpSettings, openai_endpoint
    from brainjar.jar._jar import Jar
    from brainjar.tools._toolset import StaticSource

    async def add(args: dict[str, Any]) -> ToolResult:
        return ToolResult.of(args["a"] + args["b"])

    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    tool = Tool(name="add", description="Add two integers.", parameters=schema, call=add)
    # Room for every session: the bench measures latency, not refusals.
    config = HttpSettings(port=0, max_concurrency=sessions, max_queue=sessions)

    async def main() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with (
                Jar.load(manifest, extra_sources=[StaticSource([tool] if tools else [])]) as jar,
                anyio.create_task_group() as tg,
            ):
                url = await tg.start(openai_endpoint(config).serve, jar)
                print(url, flush=True)
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

    run(main)  # on the loop `brainjar run` uses


def serve_relay(model_url: str) -> None:
    """The ``--relay`` mode: the bare relay in front of the model, until SIGTERM."""
    import aiohttp
    from aiohttp import web

    from brainjar._aio import run

    async def main() -> None:
        async with aiohttp.ClientSession() as session:

            async def relay(request: web.Request) -> web.Response:
                body = await request.read()
                headers = {"content-type": "application/json"}
                async with session.post(model_url + request.path, data=body, headers=headers) as r:
                    answer = await r.read()
                return web.Response(body=answer, status=r.status, content_type=r.content_type)

            app = web.Application()
            app.router.add_post("/v1/chat/completions", relay)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            print(f"http://127.0.0.1:{port}/v1", flush=True)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    break
            await runner.cleanup()

    run(main)


def _start(argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], START_LIMIT)
    line = proc.stdout.readline().strip() if ready else ""
    if not line:
        proc.kill()
        proc.wait()
        raise SystemExit(f"{' '.join(argv[1:3])} did not start within {START_LIMIT:g} s")
    return proc, line


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


TOOLS_MODULE = '''\
from langchain_core.tools import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''
WORKERS_MANIFEST = (
    MANIFEST
    + """\
  tools: [{{langchain: "bench_tools:add"}}]
  endpoints: [{{openai: {{port: 0, max_concurrency: {sessions}, max_queue: {sessions}}}}}]
"""
)


def _start_workers(
    folder: Path, model_url: str, sessions: int, workers: int
) -> tuple[subprocess.Popen[str], str]:
    """``brainjar run --workers N`` on a manifest with the same tool, from a module."""
    (folder / "bench_tools.py").write_text(TOOLS_MODULE)
    manifest = folder / "workers.yaml"
    manifest.write_text(
        WORKERS_MANIFEST.format(endpoint=model_url + "/v1", sessions=max(sessions, workers))
    )
    command = [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"]
    proc, line = _start([*command, "--workers", str(workers)] if workers > 1 else command)
    # --json prints a line per request: read them, or the full pipe stops the jar.
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    return proc, json.loads(line)["url"]


def _litellm_python() -> Path:
    """The Python of a virtualenv with LiteLLM's proxy, made on first use."""
    import platformdirs

    folder = Path(platformdirs.user_cache_dir("brainjar")) / "bench-litellm"
    python = folder / "bin" / "python"
    marker = folder / "installed.txt"
    if not (marker.exists() and marker.read_text() == LITELLM):
        print(f"making {folder} with {LITELLM} (once; a few minutes)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", LITELLM], check=True)
        marker.write_text(LITELLM)
    return python


def _start_litellm(python: Path, endpoint: str, folder: Path) -> tuple[subprocess.Popen[str], str]:
    config = folder / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(endpoint=endpoint))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(python), "-m", "litellm.proxy.proxy_cli", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    env = {**os.environ, "LITELLM_LOG": "ERROR", "DISABLE_ADMIN_UI": "True"}
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + LITELLM_START_LIMIT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    _stop(proc)
    raise SystemExit(f"LiteLLM's proxy did not start within {LITELLM_START_LIMIT:g} s")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _load(
    url: str,
    body: dict[str, Any],
    *,
    sessions: int,
    seconds: float,
    stream: bool,
    limit: int = 10**9,
) -> tuple[list[float], int, float, list[str]]:
    """``sessions`` clients sending one request after another, for ``seconds`` or ``limit``."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=sessions, max_keepalive_connections=sessions)
    timeout = httpx.Timeout(REQUEST_LIMIT)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        async with anyio.create_task_group() as tg:  # warm up: open every connection
            for _ in range(sessions):
                tg.start_soon(partial(http.post, url, json=body))
        end = time.perf_counter() + seconds
        began = time.perf_counter()

        async def session() -> None:
            while time.perf_counter() < end and len(latencies) + len(errors) < limit:
                t = time.perf_counter()
                try:
                    if stream:
                        async with http.stream("POST", url, json={**body, "stream": True}) as r:
                            text = "".join([part async for part in r.aiter_text()])
                            ok = r.status_code == 200 and "[DONE]" in text
                    else:
                        r = await http.post(url, json=body)
                        ok = r.status_code == 200 and bool(r.json()["choices"])
                except httpx.HTTPError as exc:
                    ok, r = False, None
                    errors.append(type(exc).__name__)
                if ok:
                    latencies.append(time.perf_counter() - t)
                elif r is not None:
                    errors.append(f"HTTP {r.status_code}")

        async with anyio.create_task_group() as tg:
            for _ in range(sessions):
                tg.start_soon(session)
        elapsed = time.perf_counter() - began
    return latencies, len(latencies), elapsed, errors


def _q(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))] * 1000 if s else float("nan")


Result = tuple[list[float], int, float, list[str]]


def _phase(
    model_url: str, jar_url: str, *, sessions: int, seconds: float, stream: bool, limit: int
) -> tuple[Result, Result]:
    question = [{"role": "user", "content": "2 + 3?"}]
    direct = anyio.run(
        partial(
            _load,
            model_url + "/v1/chat/completions",
            {"model": "scripted", "messages": question},
            sessions=sessions,
            seconds=seconds,
            stream=False,
            limit=limit,
        )
    )
    served = anyio.run(
        partial(
            _load,
            jar_url + "/chat/completions",
            {"model": "bench", "messages": question},
            sessions=sessions,
            seconds=seconds,
            stream=stream,
            limit=limit,
        )
    )
    return direct, served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sequential", type=int, default=300, help="requests, one at a time")
    parser.add_argument("--stream", action="store_true", help="stream the jar's answers (SSE)")
    parser.add_argument("--litellm", action="store_true", help="compare with LiteLLM's proxy")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve the jar as `brainjar run --workers N` does (its tool from a module); "
        "0: in this file's own process, as before",
    )
    parser.add_argument("--serve", metavar="MANIFEST", help=argparse.SUPPRESS)
    parser.add_argument("--no-tools", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay", metavar="MODEL_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        serve_relay(args.relay)
        return
    if args.serve:
        serve_jar(args.serve, args.sessions, tools=not args.no_tools)
        return
    litellm = _litellm_python() if args.litellm else None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps(SCRIPT))
        model, model_url = _start([sys.executable, "-m", "brainjar.testing", str(script)])
        try:
            manifest = Path(tmp) / "bench.yaml"
            manifest.write_text(MANIFEST.format(endpoint=model_url + "/v1"))
            if args.workers:
                jar, jar_url = _start_workers(Path(tmp), model_url, args.sessions, args.workers)
            else:
                command = [sys.executable, __file__, "--serve", str(manifest)]
                jar, jar_url = _start([*command, "--sessions", str(args.sessions)])
            try:
                one = _phase(
                    model_url,
                    jar_url,
                    sessions=1,
                    seconds=args.seconds,
                    stream=args.stream,
                    limit=args.sequential,
                )
                many = _phase(
                    model_url,
                    jar_url,
                    sessions=args.sessions,
                    seconds=args.seconds,
                    stream=args.stream,
                    limit=10**9,
                )
                peak = _peak_rss_mb(jar.pid)
            finally:
                _stop(jar)
        finally:
            _stop(model)
        passing, cpu = _passthrough(Path(tmp), litellm, requests=args.sequential)
    mode = "streamed (SSE)" if args.stream else "whole answers"
    print(f"brainjar OpenAI endpoint, {mode}, loopback, {os.cpu_count()} CPUs")
    print("script: one tool call, then a reply; a jar conversation = 2 model requests + 1 tool")
    _report("1 session, one request after another", *one, sequential=True)
    _report(f"{args.sessions} concurrent sessions for {args.seconds:g} s", *many, sequential=False)
    shown = "jar process" if args.workers < 2 else "the parent of the workers"
    print(f"{shown} peak RSS (VmHWM): {peak:.1f} MB")
    print("-- one model round trip, 1 session, one request after another")
    alone = passing["model alone"]
    for name, (latencies, count, _, errors) in passing.items():
        added = (
            ""
            if name == "model alone"
            else (f"  added p50 {_q(latencies, 0.5) - _q(alone[0], 0.5):6.2f} ms")
        )
        print(
            f"   {name:24s}: {count:5d} requests  p50 {_q(latencies, 0.5):6.2f} ms  "
            f"p99 {_q(latencies, 0.99):6.2f} ms  CPU {cpu[name]:5.2f} ms/req  "
            f"errors {len(errors)}{added}"
        )


def _passthrough(
    folder: Path, litellm: Path | None, *, requests: int
) -> tuple[dict[str, Result], dict[str, float]]:
    """One round trip to a reply-only model: alone, relayed, through the jar, through LiteLLM.

    Besides the latencies, the CPU milliseconds per request of the process in
    front of the client (the model itself, for "model alone"): a steadier figure
    than wall time on a shared machine.
    """
    script = folder / "reply.json"
    script.write_text(json.dumps(REPLY_ONLY))
    question = [{"role": "user", "content": "2 + 3?"}]
    results: dict[str, Result] = {}
    cpu: dict[str, float] = {}
    model, model_url = _start([sys.executable, "-m", "brainjar.testing", str(script)])
    try:
        manifest = folder / "passthrough.yaml"
        manifest.write_text(MANIFEST.format(endpoint=model_url + "/v1"))
        gateways: list[tuple[str, subprocess.Popen[str] | None, str, str]] = [
            ("model alone", None, model_url + "/v1", "scripted")
        ]
        relay, relay_url = _start([sys.executable, __file__, "--relay", model_url])
        gateways.append(("bare relay (the floor)", relay, relay_url, "scripted"))
        jar, jar_url = _start([sys.executable, __file__, "--serve", str(manifest), "--no-tools"])
        gateways.append(("jar, no tools", jar, jar_url, "bench"))
        if litellm is not None:
            proxy, proxy_url = _start_litellm(litellm, model_url + "/v1", folder)
            gateways.append(("LiteLLM proxy", proxy, proxy_url + "/v1", "scripted"))
        try:
            for name, process, url, model_name in gateways:
                body = {"model": model_name, "messages": question}
                pid = process.pid if process is not None else model.pid  # who answers
                before = _cpu_seconds(pid)
                results[name] = anyio.run(
                    partial(
                        _load,
                        url + "/chat/completions",
                        body,
                        sessions=1,
                        seconds=REQUEST_LIMIT,
                        stream=False,
                        limit=requests,
                    )
                )
                cpu[name] = (_cpu_seconds(pid) - before) * 1000 / max(1, results[name][1])
        finally:
            for _, process, _, _ in gateways:
                if process is not None:
                    _stop(process)
    finally:
        _stop(model)
    return results, cpu


def _cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _report(title: str, direct: Result, served: Result, *, sequential: bool) -> None:
    d_lat, d_n, d_s, d_err = direct
    j_lat, j_n, j_s, j_err = served
    print(f"-- {title}")
    print(
        f"   scripted model alone: {d_n:6d} requests  {d_n / d_s:7.1f}/s   "
        f"p50 {_q(d_lat, 0.5):7.1f} ms  p99 {_q(d_lat, 0.99):7.1f} ms  errors {len(d_err)}"
    )
    print(
        f"   jar                 : {j_n:6d} convers.  {j_n / j_s:7.1f}/s   "
        f"p50 {_q(j_lat, 0.5):7.1f} ms  p99 {_q(j_lat, 0.99):7.1f} ms  errors {len(j_err)}"
    )
    if sequential:
        added50 = _q(j_lat, 0.5) - 2 * _q(d_lat, 0.5)
        added99 = _q(j_lat, 0.99) - 2 * _q(d_lat, 0.99)
        print(
            f"   added by the jar (jar - 2 x model): p50 {added50:7.1f} ms  p99 {added99:7.1f} ms"
        )
    else:  # under saturation latency is queueing (Little's law); throughput tells more
        print(
            f"   the jar drove the model at {2 * j_n / j_s:7.1f} requests/s "
            f"(the model alone took {d_n / d_s:7.1f}/s from this client)"
        )
    if d_err or j_err:
        print(
            f"   ERRORS: {len(d_err) + len(j_err)}, most common: {statistics.mode(d_err + j_err)}"
        )


if __name__ == "__main__":
    main()
