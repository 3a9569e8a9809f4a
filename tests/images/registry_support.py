"""A real OCI registry (CNCF distribution, Debian's docker-registry) on loopback, for one module."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from brainjar.process import free_port

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "manifests" / "hello.yaml"
# How long the registry may take to answer /v2/ after it starts, and to stop.
START_WAIT = 30.0
STOP_WAIT = 15.0
POLL = 0.1
# One brainjar command: a build or push of ~100 MB on a busy 2-core machine.
COMMAND_LIMIT = 180


# A jar with nothing to pack but its manifest: quick to build, push and pull.
SMALL = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {name: small}
spec:
  model: {backend: openai, name: m, endpoint: "http://127.0.0.1:9/v1"}
"""


def small_jar(tmp_path: Path) -> Path:
    """Writes the SMALL manifest in a folder of its own under ``tmp_path``."""
    manifest = tmp_path / "jar" / "small.yaml"
    manifest.parent.mkdir()
    manifest.write_text(SMALL)
    return manifest


@dataclass(frozen=True)
class Registry:
    """A running registry: its address and where it keeps its blobs."""

    address: str
    storage: Path
    process: subprocess.Popen[bytes]

    def blob(self, digest: str) -> Path:
        """The file in which the registry keeps a blob (filesystem driver layout)."""
        hexdigest = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"


def _binary() -> str:
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).exists():
        pytest.fail("docker-registry is not installed: run bash tests/system_packages.sh")
    return binary


@contextmanager
def registry(
    folder: Path,
    *,
    htpasswd: tuple[str, str] | None = None,
    auth: str = "",
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Registry]:
    """Runs a registry on 127.0.0.1, storing in ``folder``.

    With basic auth if ``htpasswd``; ``auth`` is any other ``auth:`` config section;
    HTTPS with ``tls`` (a certificate and its key, PEM) instead of plain HTTP.
    """
    binary = _binary()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    if htpasswd is not None:
        tool = shutil.which("htpasswd")
        if tool is None:
            pytest.fail("htpasswd is not installed: run bash tests/system_packages.sh")
        line = subprocess.run(
            [tool, "-Bbn", *htpasswd], capture_output=True, text=True, check=True
        ).stdout.strip()
        (folder / "htpasswd").write_text(line + "\n")
        auth = f"auth:\n  htpasswd: {{realm: brainjar-test, path: {folder / 'htpasswd'}}}\n"
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage:\n  filesystem: {{rootdirectory: {folder / 'data'}}}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        + ("" if tls is None else f"  tls: {{certificate: {tls[0]}, key: {tls[1]}}}\n")
        + auth
    )
    probe = f"{'http' if tls is None else 'https'}://127.0.0.1:{port}/v2/"
    verify = ssl.create_default_context(cafile=None if tls is None else tls[0])
    log = (folder / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_WAIT
        while True:
            try:
                if httpx.get(probe, verify=verify).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the registry did not start: {(folder / 'registry.log').read_text()}")
            time.sleep(POLL)
        yield Registry(f"127.0.0.1:{port}", folder / "data", process)
    finally:
        process.terminate()
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def brainjar(
    *args: str,
    store: Path,
    home: Path | None = None,
    stdin: str | None = None,
    timeout: float = COMMAND_LIMIT,
) -> subprocess.CompletedProcess[str]:
    """Runs the brainjar command as a user does, with its own store (and HOME)."""
    env = {**os.environ, "BRAINJAR_IMAGES": str(store), "XDG_STATE_HOME": str(store.parent)}
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "brainjar", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def blobs(store: Path) -> set[str]:
    """The blob files of a store (temporary ones included: there must be none)."""
    folder = store / "blobs" / "sha256"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@contextmanager
def dying_on_the_way(target: Registry, *, upload: bool, after: int) -> Iterator[str]:
    """An address in front of ``target`` that kills it mid-transfer.

    Bytes pass through unchanged until ``after`` of them have gone one way (towards
    the registry if ``upload``, else towards the client); then the registry gets
    SIGKILL and every connection through here is cut, as when its machine dies.
    """
    host, port = target.address.rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    moved = [0]
    dead = threading.Event()
    lock = threading.Lock()
    sockets: list[socket.socket] = []

    def die() -> None:
        with lock:
            if dead.is_set():
                return
            dead.set()
            target.process.kill()
            for each in sockets:  # as the kernel does for a killed process: FIN or RST
                with suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)

    def pump(source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while not dead.is_set() and (data := source.recv(65536)):
                if counted:
                    with lock:
                        moved[0] += len(data)
                    if moved[0] >= after:
                        die()
                        return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                with suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if dead.is_set():
                client.close()
                continue
            upstream = socket.create_connection((host, int(port)))
            with lock:
                sockets.extend((client, upstream))
            threading.Thread(target=pump, args=(client, upstream, upload), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, not upload), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        listener.close()
        with lock:
            for each in sockets:
                each.close()
        thread.join(STOP_WAIT)
