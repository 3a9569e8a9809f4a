"""Starting, describing and stopping background jars; the jar's own reports.

No daemon: ``start`` leaves a shim (``_shim.py``) as the jar's parent and returns;
every other command reads the records (``_store.py``) and checks a pid's start
time before it believes in it, or signals it.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._procs import alive, send_signal, start_ticks
from ._store import (
    STATE_ENV,
    JarConflictError,
    is_running,
    load_record,
    locked,
    read_records,
    remove_record,
    state_dir,
    update_record,
    write_record,
)

if TYPE_CHECKING:
    from brainjar.manifest import JarManifest

__all__ = [
    "claimed_ports",
    "read_log",
    "remove",
    "start",
    "stop",
]

# How long `run -d` waits for the shim to start the jar and record its pid.
SPAWN_LIMIT = 30.0
# How long `stop` waits for a process it sent SIGKILL to, and for the shim to record its exit.
KILL_LIMIT = 10.0
# The width rich assumes for a background jar's log (it wraps lines wider than that).
LOG_WIDTH = 10_000
# How often waits on a process or a file look again (they have no event to wait on).
POLL = 0.05


def claimed_ports(manifest: JarManifest) -> list[int]:
    """The fixed ports (not 0) the manifest's endpoints listen on."""
    from brainjar.manifest import GrpcEndpoint, McpEndpoint, OpenAIEndpoint

    ports = []
    for entry in manifest.spec.endpoints:
        if isinstance(entry, McpEndpoint):
            port = entry.mcp.port if entry.mcp.transport == "http" else 0
        elif isinstance(entry, GrpcEndpoint):
            port = entry.grpc.port
        elif isinstance(entry, OpenAIEndpoint):
            port = entry.openai.port
        else:
            port = entry.ollama.port
        if port:
            ports.append(port)
    return ports


def _ports_in_use(record: dict[str, Any]) -> set[int]:
    ports = {int(p) for p in record.get("ports", [])}
    for endpoint in record.get("endpoints", []):
        port = urlsplit(str(endpoint["url"])).port
        if port:
            ports.add(port)
    return ports


def start(
    source: str,
    manifest: JarManifest,
    *,
    command: Sequence[str],
    name: str | None = None,
) -> dict[str, Any]:
    """Starts ``command`` (a ``brainjar run`` that serves) as a background jar.

    Args:
        source: what the user ran: the manifest's path or an image's reference.
        manifest: the manifest, already loaded (for its name, ports and backend).
        command: the jar's command; ``--jar-id ID`` is appended.
        name: the jar's name; default: ``metadata.name`` (with the id's start if taken).

    Returns:
        The jar's record, with its pid once the shim started it.

    Raises:
        JarConflictError: the name is taken by a running jar, or a port is claimed by one.
    """
    folder = state_dir()
    jar_id = secrets.token_hex(6)
    ports = claimed_ports(manifest)
    with locked(folder):
        running = [r for r in read_records(folder) if is_running(r)]
        names = {r.get("name") for r in running}
        if name is not None and name in names:
            raise JarConflictError(
                f"the name {name!r} is taken by a running jar: choose another with --name, "
                f"or stop it first (brainjar stop {name})"
            )
        chosen = name or manifest.metadata.name
        if chosen in names:
            chosen = f"{chosen}-{jar_id[:6]}"
        for other in running:
            clash = sorted(set(ports) & _ports_in_use(other))
            if clash:
                raise JarConflictError(
                    f"port {clash[0]} is already claimed by the running jar "
                    f"{other.get('name')!r} ({other['id']}): stop it (brainjar stop "
                    f"{other.get('name')}) or give this manifest's endpoint another port"
                )
        log = folder / f"{jar_id}.log"
        argv = [sys.executable, "-m", "brainjar.lifecycle._shim", str(folder), jar_id, "--"]
        argv += [*command, "--jar-id", jar_id]
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            shim = os.posix_spawn(
                sys.executable,
                argv,
                # A log file has no width: rich must not wrap the jar's lines at 80 columns.
                {**os.environ, STATE_ENV: str(folder), "COLUMNS": str(LOG_WIDTH)},
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, out, 1),
                    (os.POSIX_SPAWN_DUP2, out, 2),
                ],
                setsid=True,  # its own session: no terminal's Ctrl-C or hangup reaches it
            )
        finally:
            os.close(out)
        record: dict[str, Any] = {
            "id": jar_id,
            "name": chosen,
            "manifest": source,
            "backend": manifest.spec.model.backend,
            "created": time.time(),
            "ports": ports,
            "endpoints": [],
            "phase": "starting",
            "shim_pid": shim,
            "shim_ticks": start_ticks(shim),
            "pid": None,
            "start_ticks": None,
            "exit_code": None,
            "log": str(log),
        }
        write_record(folder, record)
    return _wait_for_pid(folder, record, shim=shim)


def _wait_for_pid(folder: Path, record: dict[str, Any], *, shim: int) -> dict[str, Any]:
    deadline = time.monotonic() + SPAWN_LIMIT
    while time.monotonic() < deadline:
        current = load_record(folder, record["id"]) or record
        if current.get("pid") is not None or current.get("exit_code") is not None:
            return current
        if os.waitpid(shim, os.WNOHANG)[0]:  # the shim itself failed
            return current
        time.sleep(POLL)
    return load_record(folder, record["id"]) or record


def stop(record: dict[str, Any], *, grace: float) -> dict[str, Any]:
    """Stops a jar as SIGTERM does (it drains), then SIGKILL after ``grace`` seconds.

    A jar whose pid now names another process (its start time differs) is not
    signalled: it has exited already.

    Returns:
        The jar's record once it has exited.
    """
    folder = state_dir()
    jar_id = record["id"]
    if record.get("pid") is None and is_running(record):  # the shim has not started it yet
        record = _pid_soon(folder, record)
    pid, ticks = record.get("pid"), record.get("start_ticks")
    if alive(pid, ticks):
        update_record(folder, jar_id, phase="stopping")
        send_signal(pid, ticks, signal.SIGTERM)
        if not _until(lambda: not alive(pid, ticks), grace):
            send_signal(pid, ticks, signal.SIGKILL)
            _until(lambda: not alive(pid, ticks), KILL_LIMIT)

    def exit_recorded() -> bool:
        current = load_record(folder, jar_id)
        return (
            current is None
            or current.get("exit_code") is not None
            or not alive(current.get("shim_pid"), current.get("shim_ticks"))
        )

    _until(exit_recorded, KILL_LIMIT)
    return load_record(folder, jar_id) or record


def _pid_soon(folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    def has_pid() -> bool:
        current = load_record(folder, record["id"])
        return current is None or current.get("pid") is not None or not is_running(current)

    _until(has_pid, SPAWN_LIMIT)
    return load_record(folder, record["id"]) or record


def _until(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)
    return True


def remove(record: dict[str, Any], *, force: bool = False) -> None:
    """Deletes a stopped jar's record and log; with ``force``, kills a running one first.

    Raises:
        JarConflictError: the jar runs and ``force`` is not set.
    """
    if is_running(record):
        if not force:
            raise JarConflictError(
                f"the jar {record.get('name')!r} ({record['id']}) is running: stop it first "
                f"(brainjar stop {record.get('name')}) or remove it with --force"
            )
        stop(record, grace=0.0)
    remove_record(state_dir(), record["id"])


def read_log(
    record: dict[str, Any], write: Callable[[bytes], None], *, follow: bool = False
) -> None:
    """Copies the jar's log to ``write``; with ``follow``, goes on until the jar exits."""
    folder = state_dir()
    path = Path(record.get("log") or folder / f"{record['id']}.log")
    if not path.exists():
        return
    with path.open("rb") as log:
        while True:
            chunk = log.read(65536)
            if chunk:
                write(chunk)
                continue
            if not follow:
                return
            current = load_record(folder, record["id"])
            if current is None or not is_running(current):
                write(log.read())  # what it wrote as it exited
                return
            time.sleep(POLL)
