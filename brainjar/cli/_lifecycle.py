"""`brainjar ps`, `logs`, `stop` and `rm`, and `run -d`: background jars, without a daemon."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_FAILED, EXIT_USAGE, _fail, _load

JarArg = Annotated[str, typer.Argument(help="the jar's id (or its start) or name")]


def _resolve(ref: str) -> dict[str, Any]:
    from brainjar.lifecycle import JarNotFoundError, resolve, state_dir

    try:
        return resolve(state_dir(), ref)
    except JarNotFoundError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None


def run_detached(
    manifest: Path,
    *,
    prompt: str | None,
    detach: bool,
    name: str | None,
    grace: float,
    force: bool = False,
    workers: int = 1,
) -> None:
    """``brainjar run -d``: starts the jar in the background; prints its id and name."""
    from brainjar.lifecycle import JarConflictError, start

    if not detach:
        raise _fail("--name names a background jar: use it with -d", EXIT_USAGE)
    if prompt is not None:
        raise _fail("a background jar serves its endpoints: -d takes no prompt", EXIT_USAGE)
    # A mistake in the manifest, or a jar too big for this machine, is reported here,
    # not in a log; the jar itself does not check again (--force).
    jar = _load(manifest, force=force)
    source = str(manifest.resolve()) if manifest.exists() else str(manifest)
    command = [sys.executable, "-m", "brainjar", "run", source, "--serve", "--verbose"]
    command += ["--grace", f"{grace:g}", "--force"]
    if workers > 1:
        command += ["--workers", str(workers)]
    try:
        record = start(source, jar.manifest, command=command, name=name)
    except JarConflictError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    if record.get("exit_code") is not None:
        raise _fail(
            f"the jar {record['name']!r} exited at once with status {record['exit_code']}: "
            f"see `brainjar logs {record['id']}`",
            EXIT_FAILED,
        )
    print(f"{record['id']} {record['name']}")


def ps(
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="exited jars too, not only running ones")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list")] = False,
) -> None:
    """List background jars: id, name, manifest, pid, endpoints, backend, uptime, status."""
    from brainjar.lifecycle import describe, is_running, read_records, state_dir

    rows = [describe(r) for r in read_records(state_dir()) if show_all or is_running(r)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    header = ("ID", "NAME", "STATUS", "PID", "UPTIME", "BACKEND", "MANIFEST", "ENDPOINTS")
    table = [header]
    for row in rows:
        endpoints = " ".join(f"{e['kind']}={e['url']}" for e in row["endpoints"]) or "-"
        uptime = _duration(row["uptime"]) if row["uptime"] is not None else "-"
        pid = str(row["pid"]) if row["pid"] is not None else "-"
        table.append(
            (row["id"], row["name"], row["status"], pid, uptime, row["backend"],
             row["manifest"], endpoints)
        )  # fmt: skip
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header) - 1)]
    for line in table:
        cells = [str(c).ljust(w) for c, w in zip(line, widths, strict=False)]
        print("  ".join([*cells, str(line[-1])]))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def logs(
    jar: JarArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="go on printing until the jar exits")
    ] = False,
) -> None:
    """Print a background jar's log: its own lines and its model's and tools', prefixed."""
    from brainjar.lifecycle import read_log

    record = _resolve(jar)

    def write(chunk: bytes) -> None:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()

    try:
        read_log(record, write, follow=follow)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def stop(
    jar: JarArg,
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            metavar="DURATION",
            help="how long it may drain after SIGTERM before SIGKILL, e.g. 30s or 1m",
        ),
    ] = "30s",
) -> None:
    """Stop a background jar: SIGTERM (it drains, as `run` does), then SIGKILL after --grace."""
    from brainjar.lifecycle import stop as stop_jar
    from brainjar.manifest import parse_duration

    try:
        seconds = parse_duration(grace)
    except ValueError as exc:
        raise _fail(f"--grace {grace}: {exc}", EXIT_USAGE) from None
    record = stop_jar(_resolve(jar), grace=seconds)
    code = record.get("exit_code")
    print(f"{record['id']} {record.get('name')} exited({code if code is not None else '?'})")


def rm(
    jars: Annotated[list[str], typer.Argument(help="ids (or their starts) or names")],
    force: Annotated[
        bool, typer.Option("--force", "-f", help="kill a running jar, then remove it")
    ] = False,
) -> None:
    """Remove stopped background jars' records and logs."""
    from brainjar.lifecycle import JarConflictError, remove

    for ref in jars:
        record = _resolve(ref)
        try:
            remove(record, force=force)
        except JarConflictError as exc:
            raise _fail(str(exc), EXIT_USAGE) from None
        print(record["id"])
