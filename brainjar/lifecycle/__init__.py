"""Background jars without a daemon: ``run -d``, ``ps``, ``logs``, ``stop``, ``rm``.

A background jar is a ``brainjar run`` in a session of its own, under a small
shim that records its pid, start time and exit status in a JSON file; the jar
adds its endpoints' URLs and its phase. A pid is believed, or signalled, only
while its start time matches the record.

May import: ``brainjar.manifest``, ``brainjar.process``, ``brainjar.http``,
``brainjar.jar``, ``brainjar._errors``; not ``serve``, ``cli`` or ``testing``.
"""

from ._control import claimed_ports, read_log, remove, start, stop
from ._procs import alive, send_signal, start_ticks
from ._report import JarReporter
from ._status import describe, status
from ._store import (
    STATE_ENV,
    JarConflictError,
    JarNotFoundError,
    is_running,
    load_record,
    read_records,
    resolve,
    state_dir,
    write_record,
)

__all__ = [
    "STATE_ENV",
    "JarConflictError",
    "JarNotFoundError",
    "JarReporter",
    "alive",
    "claimed_ports",
    "describe",
    "is_running",
    "load_record",
    "read_log",
    "read_records",
    "remove",
    "resolve",
    "send_signal",
    "start",
    "start_ticks",
    "state_dir",
    "status",
    "stop",
    "write_record",
]
