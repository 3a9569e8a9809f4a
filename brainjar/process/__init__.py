"""Child processes: the reaper that outlives nothing, and the supervisor of a model process.

``supervise(spec)`` starts a command under ``_reaper.py`` (so it dies with brainjar,
grandchildren included), probes its readiness, restarts it with backoff, and
stops it in order. ``_reaper.py`` runs as a script and imports nothing of brainjar.

May import: ``brainjar._errors``, ``brainjar._redact``, ``brainjar.tools`` (its
``ChangeSignal``, the version counter a process's state changes bump).
"""

from ._process import REAPER_PATH, reaper_command, running
from ._supervisor import ProcessSpec, ProcessState, SupervisedProcess, free_port, supervise

__all__ = [
    "REAPER_PATH",
    "ProcessSpec",
    "ProcessState",
    "SupervisedProcess",
    "free_port",
    "reaper_command",
    "running",
    "supervise",
]
