"""The scripted model (``python -m brainjar.testing``) as a supervised model process.

usage: scripted_model.py PORT SCRIPT RUNS_FILE [--hold-from-run K --go-file F]
                                               [--crash-from-run K]

Each start appends its pid to RUNS_FILE, so a test knows which process to kill.
From start number K on: with --crash-from-run it exits at once with code 3 (a
crash loop); with --hold-from-run it waits for F to exist before it serves (a
model that takes its time to load, for as long as the test wants).
"""

import os
import sys
import time

# The longest a held start waits for its go file.
HOLD_LIMIT = 60.0
HOLD_POLL = 0.02

args = sys.argv[1:]
port, script, runs_file = args[:3]
opts = dict(zip(args[3::2], args[4::2], strict=True))
with open(runs_file, "a+") as f:
    f.write(f"{os.getpid()}\n")
    f.seek(0)
    run = len(f.read().splitlines())
if run >= int(opts.get("--crash-from-run", "0") or 0) > 0:
    print(f"crashing on start number {run}", file=sys.stderr, flush=True)
    sys.exit(3)
if run >= int(opts.get("--hold-from-run", "0") or 0) > 0:
    print(f"start number {run} waits for {opts['--go-file']}", flush=True)
    deadline = time.monotonic() + HOLD_LIMIT
    while not os.path.exists(opts["--go-file"]) and time.monotonic() < deadline:
        time.sleep(HOLD_POLL)

from brainjar.testing.__main__ import main  # noqa: E402 - only once it is to serve

sys.exit(main([script, "--port", port]))
