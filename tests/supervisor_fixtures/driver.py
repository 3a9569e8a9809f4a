"""Runs spawn_grandchild.py under supervise() and prints the reaper's pid, then waits.

The test SIGKILLs this driver and checks that nothing it started survives.
usage: driver.py PIDFILE
"""

import sys
from pathlib import Path

import anyio

from brainjar.process._supervisor import ProcessSpec, supervise

HERE = Path(__file__).parent


async def main() -> None:
    spec = ProcessSpec(
        name="model",
        command=[sys.executable, str(HERE / "spawn_grandchild.py"), sys.argv[1]],
        stop_grace=1.0,
    )
    async with supervise(spec, log=lambda line: None) as proc:
        print(f"READY {proc.pid}", flush=True)
        await anyio.sleep_forever()


anyio.run(main)
