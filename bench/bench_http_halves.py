"""CPU per request of each half of a model round trip, and of a jar in between.

The jar's added latency (bench_endpoints.py) is mostly CPU: it is an HTTP server
for its client and an HTTP client of its model. This prints, for streamed
Chat Completions requests to the scripted model on loopback, the CPU time per
request of:

- the scripted model's server (uvicorn + starlette, the stack a jar's endpoints use),
- httpx's client (one pooled AsyncClient, what the openai SDK is built on),
- aiohttp's client on the same requests (what brainjar's model client is built on),
- brainjar's model client itself (``OpenAIClient.stream``: aiohttp, SSE framing,
  each chunk read as JSON, the answer assembled),
- a jar with no tools between a client and the scripted model: its "server" figure
  is the whole jar process (its endpoint, its loop and its model client).

    python bench/bench_http_halves.py [--requests 2000] [--words N]

``--words N`` makes the answer N words long, streamed a word per event as fast as
the scripted model can write them (a fast model, or a jar that reads slower than
its model writes, as under load); the default is a three-word answer.

CPU time is read from the kernel (``/proc/PID/stat``, ``getrusage``), so a busy
machine changes it less than it changes latency; run it on a quiet one anyway.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_endpoints as endpoints

WARM_UP = 50
QUESTION = [{"role": "user", "content": "2 + 3?"}]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _with_httpx(url: str, body: dict[str, object], requests: int) -> tuple[float, float]:
    """(this process's CPU, wall) for ``requests`` streamed requests read line by line."""
    async with httpx.AsyncClient() as client:

        async def one() -> None:
            async with client.stream("POST", url, json=body) as response:
                async for _ in response.aiter_lines():
                    pass

        return await _timed(one, requests)


async def _with_aiohttp(url: str, body: dict[str, object], requests: int) -> tuple[float, float]:
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with session.post(url, json=body) as response:
                async for _ in response.content:
                    pass

        return await _timed(one, requests)


async def _with_brainjar(url: str, body: dict[str, object], requests: int) -> tuple[float, float]:
    from brainjar import Message
    from brainjar.models._openai import OpenAIClient

    client = OpenAIClient(base_url=url.removesuffix("/chat/completions"), model=str(body["model"]))
    messages = [Message(role="user", content="2 + 3?")]

    async def one() -> None:
        async for _ in client.stream(messages, tools=(), parameters={}):
            pass

    try:
        return await _timed(one, requests)
    finally:
        await client.aclose()


async def _timed(one: Callable[[], Awaitable[None]], requests: int) -> tuple[float, float]:
    for _ in range(WARM_UP):
        await one()
    cpu, wall = _own_cpu(), anyio.current_time()
    for _ in range(requests):
        await one()
    return _own_cpu() - cpu, anyio.current_time() - wall


def _measure(
    server: subprocess.Popen[str], url: str, *, model: str, client: str, requests: int
) -> tuple[float, float]:
    """(server CPU, client CPU) per request, in ms, for one client library."""
    body: dict[str, object] = {"model": model, "messages": QUESTION, "stream": True}
    before = endpoints._cpu_seconds(server.pid)
    run = {"httpx": _with_httpx, "aiohttp": _with_aiohttp, "brainjar": _with_brainjar}[client]
    own, _ = anyio.run(run, url, body, requests)
    return (endpoints._cpu_seconds(server.pid) - before) * 1000 / requests, own * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--words", type=int, help="the answer's length (default: three words)")
    args = parser.parse_args()
    answer = endpoints.REPLY_ONLY
    if args.words:
        answer = {"steps": [{"reply": " ".join(["word"] * args.words)}], "repeat": True}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "reply.json"
        script.write_text(json.dumps(answer))
        model, model_url = endpoints._start([sys.executable, "-m", "brainjar.testing", str(script)])
        try:
            manifest = Path(tmp) / "jar.yaml"
            manifest.write_text(endpoints.MANIFEST.format(endpoint=model_url + "/v1"))
            served = [sys.executable, endpoints.__file__, "--serve", str(manifest), "--no-tools"]
            jar, jar_url = endpoints._start(served)
            try:
                clients = {"httpx": "httpx", "aiohttp": "aiohttp", "brainjar": "brainjar's"}
                rows = [
                    (f"scripted model, {label} client", model, model_url + "/v1", "scripted", c)
                    for c, label in clients.items()
                ]
                rows.append(("jar (no tools), aiohttp client", jar, jar_url, "bench", "aiohttp"))
                length = f"{args.words}-word" if args.words else "three-word"
                print(
                    f"CPU ms per streamed request ({length} answer), "
                    f"{args.requests} requests one after another"
                )
                for name, server, url, served_model, client in rows:
                    server_ms, client_ms = _measure(
                        server,
                        url + "/chat/completions",
                        model=served_model,
                        client=client,
                        requests=args.requests,
                    )
                    print(f"   {name:34s}: server {server_ms:5.2f}   client {client_ms:5.2f}")
            finally:
                endpoints._stop(jar)
        finally:
            endpoints._stop(model)


if __name__ == "__main__":
    main()
