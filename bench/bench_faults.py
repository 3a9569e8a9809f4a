"""A soak under faults: a served jar, hostile tools, an MCP server that keeps dying.

Processes on loopback: the scripted model (a ``ScriptedModelServer`` in a thread
of this process: each conversation makes one tool call, then answers), a real
``brainjar run`` serving its OpenAI endpoint, and behind it

- ``_fault_tools.py``'s ``work_sync`` and ``work_async``, in process, each failing
  for ``--rate`` of the conversations (seeded) by raising, hanging past
  ``tool_timeout``, returning 4 MiB, or calling ``sys.exit()``;
- ``_fault_mcp_server.py``'s ``stamp``: over stdio (the jar's child, which this
  benchmark SIGKILLs every ``--kill-every`` seconds) or over streamable HTTP (a
  server this benchmark owns, kills and restarts on the same port). A server
  that takes longer than ``--kill-every`` to start is killed before it serves.

Conversation n calls ``work_sync``, ``work_async`` or ``stamp`` (n mod 3). The
load is the ``openai`` client (no retries) at ``--concurrency``. Tool calls are
counted from the jar's transcripts: every call the model asked for must have
exactly one result. Figures, not assertions: nothing here is a test.

    python bench/bench_faults.py [--conversations 3000] [--concurrency 20]
        [--max-seconds 1200] [--mcp stdio|http]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent))

from _fault_soak import (
    Resources,
    count_calls,
    find_children,
    free_port,
    sample,
    wait_tcp,
)
from _fault_tools import fault_for

from brainjar.testing import ScriptedModelServer, ScriptedRequest, Step, call, reply

HERE = Path(__file__).parent
TOOLS = ("work_sync", "work_async", "stamp")
# How long the jar may take to print its endpoint's URL.
START_LIMIT = 60.0
# How long the MCP HTTP server may take to listen after a (re)start.
MCP_START_LIMIT = 30.0
# Per-request limit of the load client: a slower conversation is an error.
REQUEST_LIMIT = 120.0
# How long the jar may take to drain and exit after SIGTERM.
STOP_LIMIT = 60.0
# The share of conversations after which RSS is sampled as the warm baseline.
WARM_SHARE = 0.1


def script(request: ScriptedRequest) -> Step:
    """Conversation n: one call to ``TOOLS[n % 3]`` with a unique id, then an answer."""
    first = next(m for m in request.messages if m.get("role") == "user")
    n = int(str(first["content"]).split()[-1])
    if request.step == 0:
        return call(TOOLS[n % 3], {"n": n}, id=f"call_{n}")
    result = next((str(m.get("content")) for m in request.messages if m.get("role") == "tool"), "")
    return reply(f"conversation {n}: " + ("tool failed" if result.startswith("error") else "ok"))


def manifest(args: argparse.Namespace, *, model: str, mcp_url: str | None, tmp: Path) -> str:
    """The jar's manifest (JSON, which is YAML)."""
    if mcp_url is None:
        mcp: dict[str, Any] = {
            "command": [sys.executable, str(HERE / "_fault_mcp_server.py")],
            "name": "stamp",
        }
    else:
        mcp = {"url": mcp_url, "name": "stamp"}
    return json.dumps(
        {
            "apiVersion": "brainjar.dev/v1",
            "kind": "Jar",
            "metadata": {"name": "faults"},
            "spec": {
                "model": {"backend": "openai", "endpoint": model, "name": "scripted"},
                "tools": [
                    {
                        "langchain": "_fault_tools:fault_tools",
                        "with": {"seed": args.seed, "rate": args.rate, "hang": args.hang},
                    },
                    {"mcp": mcp},
                ],
                "endpoints": [
                    {"openai": {"port": 0, "max_concurrency": args.concurrency, "max_queue": 64}}
                ],
                "loop": {
                    "max_steps": 4,
                    "tool_timeout": args.tool_timeout,
                    "transcripts": str(tmp / "transcripts"),
                },
            },
        },
        indent=2,
    )


class Jar:
    """``brainjar run --json`` in a process; its stdout is read in a thread."""

    def __init__(self, manifest_path: Path, log: Path) -> None:
        exe = shutil.which("brainjar", path=str(Path(sys.executable).parent)) or "brainjar"
        # _fault_tools imports from this folder (the manifest lives in a temporary one).
        paths = [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [exe, "run", "--json", str(manifest_path)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
        )
        self.url: str | None = None
        self.statuses: Counter[str] = Counter()
        self._listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._listening.wait(START_LIMIT) or self.url is None:
            self.stop()
            raise SystemExit(f"the jar did not listen within {START_LIMIT:g} s; see {log}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") == "listening" and event.get("endpoint") == "openai":
                self.url = str(event["url"])
                self._listening.set()
            elif event.get("type") == "request":
                self.statuses[str(event.get("status"))] += 1
        self._listening.set()

    def stop(self) -> int | None:
        """SIGTERM (the jar drains), then SIGKILL after STOP_LIMIT; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_LIMIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class McpKiller:
    """Kills the MCP server every ``every`` seconds, in a thread, until ``stop``."""

    def __init__(self, *, every: float, http_port: int | None) -> None:
        self.jar: Jar | None = None
        self.every = every
        self.http_port = http_port
        self.kills = 0
        self.server: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start_http(self) -> None:
        """(Re)starts the HTTP server this benchmark owns, and waits until it listens."""
        assert self.http_port is not None
        argv = [sys.executable, str(HERE / "_fault_mcp_server.py"), "--http", str(self.http_port)]
        self.server = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        wait_tcp(self.http_port, limit=MCP_START_LIMIT)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            if self.http_port is not None and self.server is not None:
                self.server.kill()
                self.server.wait()
                self.kills += 1
                self.start_http()
                continue
            assert self.jar is not None
            for pid in find_children(self.jar.proc.pid, "_fault_mcp_server"):
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass

    def watch(self, jar: Jar) -> None:
        """Starts killing: the jar's stdio child, or the HTTP server."""
        self.jar = jar
        self._thread.start()

    def stop(self) -> None:
        """Stops killing, and stops the HTTP server; twice is harmless."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait()


async def load(
    url: str, *, conversations: int, concurrency: int, max_seconds: float, on_warm: Any
) -> tuple[Counter[str], int, float]:
    """Runs the conversations; returns outcomes by kind, conversations begun, seconds."""
    import openai

    outcomes: Counter[str] = Counter()
    client = openai.AsyncOpenAI(base_url=url, api_key="-", max_retries=0, timeout=REQUEST_LIMIT)
    next_n = 0
    done = 0
    warm_at = max(1, int(conversations * WARM_SHARE))
    began = time.perf_counter()
    deadline = began + max_seconds

    async def session() -> None:
        nonlocal next_n, done
        while next_n < conversations and time.perf_counter() < deadline:
            n, next_n = next_n, next_n + 1
            try:
                answer = await client.chat.completions.create(
                    model="faults", messages=[{"role": "user", "content": f"conversation {n}"}]
                )
                text = answer.choices[0].message.content or ""
                outcomes["ok" if text.startswith(f"conversation {n}:") else "wrong answer"] += 1
            except openai.APIStatusError as exc:
                outcomes[f"HTTP {exc.status_code}"] += 1
                if exc.status_code >= 500:
                    print(f"   conversation {n}: HTTP {exc.status_code}: {exc.message}")
            except openai.APIError as exc:
                kind = type(exc).__name__
                if not outcomes[kind]:
                    print(f"   conversation {n}: {kind}: {exc!r} (cause: {exc.__cause__!r})")
                outcomes[kind] += 1
            done += 1
            if done == warm_at:
                on_warm()

    async with client, anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(session)
    return outcomes, next_n, time.perf_counter() - began


def expected_faults(n: int, *, seed: int, rate: float) -> Counter[str]:
    """The faults ``_fault_tools`` was set to raise in conversations 0..n-1."""
    planned: Counter[str] = Counter()
    for i in range(n):
        tool = TOOLS[i % 3]
        if tool != "stamp" and (fault := fault_for(tool, i, seed=seed, rate=rate)):
            planned[f"{tool} {fault}"] += 1
    return planned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="then stop starting")
    parser.add_argument("--mcp", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.05, help="share of calls that fail")
    parser.add_argument("--tool-timeout", type=float, default=2.0, help="seconds")
    parser.add_argument("--hang", type=float, default=8.0, help="seconds a hanging tool sleeps")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        result = soak(args, tmp)
    finally:
        if args.keep:
            print(f"manifest, transcripts and the jar's log kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(args, result)


@dataclass
class Soak:
    """What one run saw."""

    outcomes: Counter[str]
    begun: int
    seconds: float
    calls: dict[str, Any]
    start: Resources
    warm: Resources | None
    end: Resources | None
    status: int | None
    kills: int
    jar_statuses: Counter[str]
    log_tail: list[str]

    @property
    def alive(self) -> bool:
        return self.end is not None


def soak(args: argparse.Namespace, tmp: Path) -> Soak:
    """Starts the model, the MCP server (over HTTP) and the jar; runs the load; stops them."""
    with ScriptedModelServer(script).run_in_thread() as model:
        http_port = free_port() if args.mcp == "http" else None
        mcp_url = f"http://127.0.0.1:{http_port}/mcp" if http_port else None
        path = tmp / "faults.yaml"
        path.write_text(manifest(args, model=model.openai_base_url, mcp_url=mcp_url, tmp=tmp))
        killer = McpKiller(every=args.kill_every, http_port=http_port)
        try:
            if http_port is not None:
                killer.start_http()  # the jar connects to it at start
            jar = Jar(path, tmp / "jar.log")
            try:
                assert jar.url is not None
                start = sample(jar.proc.pid)
                warm: list[Resources] = []
                killer.watch(jar)

                def on_warm() -> None:
                    warm.append(sample(jar.proc.pid))
                    model.requests.clear()  # the scripted server keeps every request's body

                outcomes, begun, seconds = anyio.run(
                    lambda: load(
                        str(jar.url),
                        conversations=args.conversations,
                        concurrency=args.concurrency,
                        max_seconds=args.max_seconds,
                        on_warm=on_warm,
                    )
                )
                killer.stop()
                end = sample(jar.proc.pid) if jar.proc.poll() is None else None
            finally:
                killer.stop()
                status = jar.stop()
        finally:
            killer.stop()
    return Soak(
        outcomes=outcomes,
        begun=begun,
        seconds=seconds,
        calls=count_calls(tmp / "transcripts"),
        start=start,
        warm=warm[0] if warm else None,
        end=end,
        status=status,
        kills=killer.kills,
        jar_statuses=jar.statuses,
        log_tail=(tmp / "jar.log").read_text(errors="replace").splitlines()[-15:],
    )


def report(args: argparse.Namespace, r: Soak) -> None:
    """Prints the figures next to their targets."""
    failed = {k: v for k, v in r.outcomes.items() if k != "ok"}
    fivexx = sum(v for k, v in r.outcomes.items() if re.fullmatch(r"HTTP 5\d\d", k))
    calls = r.calls
    print(f"brainjar fault soak: OpenAI endpoint, loopback, {os.cpu_count()} CPUs, mcp {args.mcp}")
    print(
        f"conversations: {r.begun} begun, {r.outcomes['ok']} answered correctly, "
        f"in {r.seconds:.1f} s ({r.begun / r.seconds:.1f}/s), concurrency {args.concurrency}"
    )
    print(f"HTTP errors by status/kind: {dict(sorted(failed.items())) or 'none'}")
    print(f"   HTTP 5xx: {fivexx:5d}                 target 0")
    print(f"MCP server kills (every {args.kill_every:g} s): {r.kills}")
    planned = expected_faults(r.begun, seed=args.seed, rate=args.rate)
    print(f"faults planned in the in-process tools: {dict(sorted(planned.items()))}")
    print("tool errors by tool, kind and message (numbers as N):")
    for key, count in sorted(calls["errors"].items()):
        print(f"   {count:5d}  {key}")
    print(f"tool results cut at max_result: {calls['truncated']}")
    print(
        f"transcripts: {calls['transcripts']}; tool calls asked: {calls['asked']}, "
        f"results: {calls['results']}, cancelled (client gone): {calls['cancelled']}"
    )
    print(f"   lost tool calls:       {calls['lost']:5d}   target 0")
    print(f"   duplicated tool calls: {calls['duplicated']:5d}   target 0")
    print("jar process          RSS MB   fds  threads  children")
    for name, row in [("at start", r.start), ("after warm-up", r.warm), ("at end", r.end)]:
        if row is not None:
            print(
                f"   {name:15s} {row.rss_mb:7.1f} {row.fds:5d} {row.threads:8d} {row.children:9d}"
            )
    print(
        f"jar alive at the end: {'yes' if r.alive else 'NO'}   target yes "
        f"(exit status after SIGTERM: {r.status})"
    )
    if r.end is not None:
        for name, base in [("start", r.start), ("warm-up", r.warm)]:
            if base is not None:
                growth = 100 * (r.end.rss_mb - base.rss_mb) / base.rss_mb
                print(f"RSS growth since {name}: {growth:+.1f} %   target < 20 %")
    print(f"jar-side request log, by status: {dict(sorted(r.jar_statuses.items()))}")
    if not r.alive or failed:
        print("jar log, last lines:", *r.log_tail, sep="\n   ")


if __name__ == "__main__":
    main()
