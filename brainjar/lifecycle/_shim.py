"""The shim of a background jar: starts it, records its pid, waits, records its exit.

``brainjar run -d`` starts it in a session of its own and returns; it stays as the
jar's parent, as conmon does for a container, so that a jar's exit status is known
however it ended (SIGKILL included: 128 + 9)::

    python -m brainjar.lifecycle._shim STATE_DIR JAR_ID -- CMD ARGS...

Its stdout and stderr are the jar's log file, which CMD inherits.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ._procs import start_ticks
from ._store import update_record


def main(argv: list[str]) -> int:
    """Runs CMD, records its pid and start time, then its exit status."""
    if len(argv) < 4 or argv[2] != "--":
        print("usage: _shim.py STATE_DIR JAR_ID -- CMD...", file=sys.stderr)
        return 2
    folder, jar_id, command = Path(argv[0]), argv[1], argv[3:]
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"brainjar: cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        update_record(folder, jar_id, exit_code=127, finished=time.time(), phase="exited")
        return 127
    update_record(
        folder, jar_id, pid=process.pid, start_ticks=start_ticks(process.pid), started=time.time()
    )
    status = process.wait()
    code = 128 - status if status < 0 else status
    update_record(folder, jar_id, exit_code=code, finished=time.time(), phase="exited")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
