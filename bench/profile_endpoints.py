"""Profile a jar under the load of ``bench_endpoints.py`` and print the top entries.

The benchmark runs as a child; py-spy (a sampling profiler, in the ``dev``
extra) attaches to the jar process it starts (``--serve``) and samples it until
it exits. Printed: the frames where the jar spends its own time (self) and the
frames under which it spends it (total), as shares of the jar's samples.

    python bench/profile_endpoints.py [--sessions 200] [--seconds 10] [--top 25]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).with_name("bench_endpoints.py")
SAMPLE_RATE = 250  # per second: enough to rank frames, light on a 2-core machine
RECORD_LIMIT_S = 600.0  # the whole benchmark, including its sequential phases
JAR_START_LIMIT_S = 120.0  # the benchmark measures the model alone before it starts the jar
POLL_S = 0.05


def find_jar(bench: subprocess.Popen[bytes]) -> int:
    """The pid of the jar process the benchmark started, once it exists."""
    deadline = time.monotonic() + JAR_START_LIMIT_S
    while time.monotonic() < deadline and bench.poll() is None:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == bench.pid and b"--serve" in cmdline:
                return int(proc.name)
        time.sleep(POLL_S)
    bench.kill()
    sys.exit(
        f"profile_endpoints: no jar process (--serve) under the benchmark within "
        f"{JAR_START_LIMIT_S:.0f} s; run bench/bench_endpoints.py alone to see why"
    )


def jar_stacks(raw: Path) -> collections.Counter[tuple[str, ...]]:
    """The jar process's stacks and their sample counts from py-spy's raw output."""
    stacks: collections.Counter[tuple[str, ...]] = collections.Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def print_top(stacks: collections.Counter[tuple[str, ...]], *, top: int) -> None:
    """Prints the frames with the most self and total samples."""
    total = sum(stacks.values())
    if total == 0:
        sys.exit("profile_endpoints: no samples of the jar process; is py-spy allowed to ptrace?")
    own: collections.Counter[str] = collections.Counter()
    under: collections.Counter[str] = collections.Counter()
    for frames, count in stacks.items():
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            under[frame] += count
    for title, counter in (("self", own), ("total", under)):
        print(f"\n== jar process, top {top} by {title} ({total} samples) ==")
        for frame, count in counter.most_common(top):
            print(f"{100 * count / total:6.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        sys.exit("profile_endpoints: py-spy is not installed; run: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "profile.txt"
        bench = subprocess.Popen([
            sys.executable, str(BENCH), "--sessions", str(args.sessions),
            "--seconds", str(args.seconds), "--sequential", str(args.sequential),
        ])  # fmt: skip
        try:
            jar = find_jar(bench)
            record = [
                py_spy, "record", "--pid", str(jar), "--format", "raw",
                "--rate", str(SAMPLE_RATE), "--output", str(raw),
            ]  # fmt: skip
            subprocess.run(record, check=False, timeout=RECORD_LIMIT_S)
            bench.wait(timeout=RECORD_LIMIT_S)
        finally:
            if bench.poll() is None:
                bench.kill()
                bench.wait()
        print_top(jar_stacks(raw), top=args.top)


if __name__ == "__main__":
    main()
