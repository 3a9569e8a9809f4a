"""Starts a grandchild that ignores SIGTERM and holds stdout, writes "PID GRANDCHILD_PID"
to the file given (atomically), then waits forever."""

import os
import subprocess
import sys
import time

grandchild = subprocess.Popen(
    [
        sys.executable,
        "-c",
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('grandchild up', flush=True)\n"
        "time.sleep(3600)",
    ],
)
tmp = sys.argv[1] + ".tmp"
with open(tmp, "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}\n")
os.replace(tmp, sys.argv[1])
print("child up", flush=True)
while True:
    time.sleep(3600)
