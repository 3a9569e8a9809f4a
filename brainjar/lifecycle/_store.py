"""The state of background jars: one JSON record per jar, in files, with no daemon.

Layout of the state folder (``$BRAINJAR_STATE``, else platformdirs'
``user_state_path("brainjar")/jars``)::

    .lock          taken (flock) while a record is created or changed
    <id>.json      the record, replaced atomically (written beside, then renamed)
    <id>.log       the jar's stdout and stderr: its own lines and its model's, prefixed

Three processes write a record, each its own fields, under the lock: ``run -d``
creates it; the shim (``_shim.py``) adds the jar's pid and start time, then its
exit code; the jar adds its endpoints' URLs and its phase (ready, stopping).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brainjar._errors import ProcessError

from ._procs import alive

__all__ = [
    "STATE_ENV",
    "JarConflictError",
    "JarNotFoundError",
    "is_running",
    "load_record",
    "locked",
    "read_records",
    "remove_record",
    "resolve",
    "state_dir",
    "update_record",
    "write_record",
]

STATE_ENV = "BRAINJAR_STATE"


class JarNotFoundError(ProcessError):
    """No background jar has the id or name asked for."""


class JarConflictError(ProcessError):
    """A jar cannot start, or be removed, because of another jar or its own state."""


def state_dir() -> Path:
    """The folder of the records (created if missing)."""
    override = os.environ.get(STATE_ENV)
    if override:
        folder = Path(override).expanduser().resolve()
    else:
        import platformdirs

        folder = platformdirs.user_state_path("brainjar") / "jars"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Holds the state folder's lock: one writer at a time, across processes."""
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Writes a record atomically: readers see the old one or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{record['id']}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{record['id']}.json")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_record(folder: Path, jar_id: str) -> dict[str, Any] | None:
    """The record of jar ``jar_id``, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((folder / f"{jar_id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def update_record(folder: Path, jar_id: str, **changes: Any) -> dict[str, Any] | None:
    """Changes some fields of a record under the lock; None if the record is gone."""
    with locked(folder):
        record = load_record(folder, jar_id)
        if record is None:
            return None
        record.update(changes)
        write_record(folder, record)
        return record


def read_records(folder: Path) -> list[dict[str, Any]]:
    """Every record, oldest first."""
    records = []
    for path in folder.glob("*.json"):
        record = load_record(folder, path.stem)
        if record is not None:
            records.append(record)
    return sorted(records, key=lambda r: float(r.get("created", 0)))


def remove_record(folder: Path, jar_id: str) -> None:
    """Deletes a jar's record and its log."""
    with locked(folder):
        for suffix in (".json", ".log"):
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{jar_id}{suffix}").unlink()


def is_running(record: dict[str, Any]) -> bool:
    """Whether the jar's process (or, before it started, its shim) still runs."""
    if record.get("pid") is not None:
        return alive(record["pid"], record.get("start_ticks"))
    if record.get("exit_code") is not None:
        return False
    return alive(record.get("shim_pid"), record.get("shim_ticks"))


def resolve(folder: Path, ref: str) -> dict[str, Any]:
    """The record a user means by ``ref``: an id, a unique id prefix, or a name.

    A name held by several records means the running jar, else the newest.

    Raises:
        JarNotFoundError: nothing matches, or an id prefix matches several jars.
    """
    records = read_records(folder)
    for record in records:
        if record["id"] == ref:
            return record
    named = [r for r in records if r.get("name") == ref]
    if named:
        running = [r for r in named if is_running(r)]
        return (running or named)[-1]
    prefixed = [r for r in records if str(r["id"]).startswith(ref)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        ids = ", ".join(str(r["id"]) for r in prefixed)
        raise JarNotFoundError(f"{ref!r} is the start of several jar ids ({ids}): write more of it")
    raise JarNotFoundError(
        f"no jar has the id or name {ref!r} in {folder}: `brainjar ps --all` lists them"
    )
