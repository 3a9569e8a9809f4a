"""What ``bench/bench_faults.py`` measures: a process's resources, and tool calls in transcripts."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Resources", "count_calls", "find_children", "free_port", "sample", "wait_tcp"]

# What brainjar appends to a result cut at max_result (brainjar/tools/_policies.py TRUNCATED).
TRUNCATED_MARK = "[brainjar: the result was cut to "


@dataclass(frozen=True)
class Resources:
    """One process's resident memory, open file descriptors, threads and child processes."""

    rss_mb: float
    fds: int
    threads: int
    children: int


def sample(pid: int) -> Resources:
    """Reads ``pid``'s resources from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return Resources(
        rss_mb=int(status["VmRSS"].split()[0]) / 1024,
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(status["Threads"]),
        children=len(find_children(pid)),
    )


def find_children(pid: int, marker: str = "") -> list[int]:
    """The live child processes of ``pid`` whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # it ended while we looked
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        if int(fields[1]) == pid and fields[0] != "Z" and marker.encode() in cmdline:
            found.append(int(entry))
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_tcp(port: int, *, limit: float) -> None:
    """Waits until 127.0.0.1:``port`` accepts a connection, for at most ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"nothing listened on 127.0.0.1:{port} within {limit:g} s"
                ) from None
            time.sleep(0.05)


def count_calls(folder: Path) -> dict[str, Any]:
    """Tool calls asked and answered, per transcript: every id asked needs one result.

    Returns:
        ``transcripts``, ``asked``, ``results``, ``cancelled`` (ids with no tool
        message, recorded as cancelled when the client went away), ``lost`` (ids
        with no tool message and no such record), ``duplicated`` (results beyond
        the first for an id), ``truncated`` (results cut at max_result) and
        ``errors`` (failed calls by "tool: kind: message",
        numbers in the message replaced by N).
    """
    totals: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for path in sorted(folder.glob("*.jsonl")):
        totals["transcripts"] += 1
        asked: list[str] = []
        answered: Counter[str] = Counter()
        cancelled: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            kind = record.get("type")
            if kind == "message" and record.get("role") == "assistant":
                asked += [c["id"] for c in record.get("tool_calls") or []]
            elif kind == "message" and record.get("role") == "tool":
                answered[str(record.get("tool_call_id"))] += 1
                if TRUNCATED_MARK in str(record.get("content")):
                    totals["truncated"] += 1
            elif kind == "tool_call_failed" and record.get("kind") == "cancelled":
                cancelled.add(str(record.get("call_id")))
            elif kind == "tool_call_failed":
                message = re.sub(r"\d+(\.\d+)?", "N", str(record.get("error")))[:110]
                errors[f"{record.get('name')}: {record.get('kind')}: {message}"] += 1
        totals["asked"] += len(asked)
        totals["results"] += sum(answered.values())
        # A call cut off because its client went away is recorded as cancelled, not lost.
        totals["cancelled"] += sum(1 for i in asked if answered[i] == 0 and i in cancelled)
        totals["lost"] += sum(1 for i in asked if answered[i] == 0 and i not in cancelled)
        totals["duplicated"] += sum(n - 1 for n in answered.values() if n > 1)
    return {
        **{
            k: totals[k]
            for k in (
                "transcripts",
                "asked",
                "results",
                "cancelled",
                "lost",
                "duplicated",
                "truncated",
            )
        },
        "errors": errors,
    }
