"""Jar images: build, push and pull time and bytes for hello.yaml (~100 MB of weights).

Starts a real registry (Debian's docker-registry, CNCF distribution) on loopback
in a temporary folder, then times the brainjar commands as a user runs them:
build into an empty store, a first push, a second push (which must send no
layer), pull into an empty store, and beside them a raw monolithic upload of the
same weights blob with plain HTTP (POST + PUT), the floor any client pays.
Last, ``brainjar run REF PROMPT`` from the pulled image against ``brainjar run
manifests/hello.yaml PROMPT`` (model start, two model steps, one tool call),
interleaved, ``RUNS`` times each, medians: the image path may add no more than
10% or 0.3 s (issue 12).

    python bench/bench_images.py
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "manifests" / "hello.yaml"
START_WAIT = 30.0
COMMAND_LIMIT = 600
# One-shot runs of each kind, interleaved; the medians are compared.
RUNS = 3
PROMPT = "What is in the sandbox?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _brainjar(*args: str, store: Path) -> tuple[float, str]:
    env = {**os.environ, "BRAINJAR_IMAGES": str(store)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "brainjar", *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT,
        env=env,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"brainjar {' '.join(args)} failed: {done.stderr}")
    return took, done.stdout.strip()


def _bytes(output: str) -> str:
    match = re.search(r"(sent|received) (\d+) bytes", output)
    return f"{int(match[2]) / 1e6:8.1f} MB" if match else "       ?"


def _raw_upload(address: str, blob: Path) -> float:
    data = blob.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = time.perf_counter()
    with httpx.Client(timeout=COMMAND_LIMIT) as client:
        start = client.post(f"http://{address}/v2/raw/weights/blobs/uploads/")
        location = start.headers["location"]
        url = location if location.startswith("http") else f"http://{address}{location}"
        sep = "&" if "?" in url else "?"
        client.put(f"{url}{sep}digest={digest}", content=data).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    """Prints one line per step: seconds and bytes transferred."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = _free_port()
        config = folder / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error}\n"
            f"storage:\n  filesystem: {{rootdirectory: {folder / 'data'}}}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + START_WAIT
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/v2/")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the registry did not start") from None
                    time.sleep(0.1)
            address = f"127.0.0.1:{port}"
            ref = f"{address}/jars/hello:bench"
            source, target = folder / "source", folder / "target"
            rows = []
            took, out = _brainjar("build", str(HELLO), "-t", ref, store=source)
            rows.append(("build (empty store)", took, ""))
            took, out = _brainjar("build", str(HELLO), "-t", ref, store=source)
            rows.append(("build again (weights there)", took, ""))
            took, out = _brainjar("push", "--insecure", ref, store=source)
            rows.append(("push, first", took, _bytes(out)))
            took, out = _brainjar("push", "--insecure", ref, store=source)
            rows.append(("push, second (unchanged)", took, _bytes(out)))
            weights = max((source / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
            rows.append(("raw blob upload (POST+PUT)", _raw_upload(address, weights), ""))
            took, out = _brainjar("pull", "--insecure", ref, store=target)
            rows.append(("pull (empty store)", took, _bytes(out)))
            took, out = _brainjar("tools", "--json", ref, store=target)
            rows.append(("tools REF (unpack + load)", took, ""))
            took, out = _brainjar("tools", "--json", str(HELLO), store=target)
            rows.append(("tools hello.yaml (path)", took, ""))
            by_ref, by_path = [], []
            for _ in range(RUNS):
                by_ref.append(_brainjar("run", ref, PROMPT, store=target)[0])
                by_path.append(_brainjar("run", str(HELLO), PROMPT, store=target)[0])
            ref_s, path_s = statistics.median(by_ref), statistics.median(by_path)
            rows.append((f"run REF (median of {RUNS})", ref_s, ""))
            rows.append((f"run hello.yaml (median of {RUNS})", path_s, ""))
        finally:
            registry.terminate()
            registry.wait(START_WAIT)
    print(f"{'step':32} {'seconds':>8} {'bytes':>11}")
    for name, seconds, size in rows:
        print(f"{name:32} {seconds:8.2f} {size:>11}")
    added = ref_s - path_s
    limit = max(0.1 * path_s, 0.3)
    verdict = "within" if added <= limit else "OVER"
    print(f"run REF adds {added:+.2f} s to run hello.yaml ({verdict} the limit of {limit:.2f} s)")


if __name__ == "__main__":
    main()
