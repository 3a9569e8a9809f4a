"""In-process tools for ``bench/bench_faults.py``: two tools that fail now and then.

A manifest names them as ``langchain: _fault_tools:fault_tools`` (with this
folder on ``PYTHONPATH``). ``work_sync`` runs in a tool thread, ``work_async``
on the jar's event loop. Each takes the conversation's number ``n`` and, for a
fraction ``rate`` of the numbers (chosen by a generator seeded with ``seed``,
the tool's name and ``n``, so the benchmark knows which calls were meant to
fail), fails in one of ``FAULTS`` ways:

- ``raise``: raises ``RuntimeError``;
- ``hang``: sleeps ``hang`` seconds, past the jar's ``tool_timeout`` (a sync
  tool holds its thread that long; an async one is cancelled);
- ``big``: returns ``BIG_BYTES`` of text;
- ``exit``: calls ``sys.exit()``, as argparse and click do.
"""

from __future__ import annotations

import random
import sys
import time

import anyio
from langchain_core.tools import BaseTool, StructuredTool

__all__ = ["BIG_BYTES", "FAULTS", "fault_for", "fault_tools"]

FAULTS = ("raise", "hang", "big", "exit")
# What a ``big`` fault returns: 4 MiB, well over the jar's default max_result.
BIG_BYTES = 4 * 1024 * 1024


def fault_for(tool: str, n: int, *, seed: int, rate: float) -> str | None:
    """The fault ``tool`` has in conversation ``n``, or None when it works."""
    rng = random.Random(f"{seed}:{tool}:{n}")
    if rng.random() >= rate:
        return None
    return rng.choice(FAULTS)


def fault_tools(seed: int = 0, rate: float = 0.05, hang: float = 10.0) -> list[BaseTool]:
    """``work_sync`` and ``work_async``; see the module docstring."""

    def work_sync(n: int) -> str:
        fault = fault_for("work_sync", n, seed=seed, rate=rate)
        if fault == "raise":
            raise RuntimeError(f"work_sync: the fault planned for conversation {n}")
        if fault == "hang":
            time.sleep(hang)
        if fault == "big":
            return "x" * BIG_BYTES
        if fault == "exit":
            sys.exit(f"work_sync: exiting, as planned for conversation {n}")
        return f"work_sync did {n}"

    async def work_async(n: int) -> str:
        fault = fault_for("work_async", n, seed=seed, rate=rate)
        if fault == "raise":
            raise RuntimeError(f"work_async: the fault planned for conversation {n}")
        if fault == "hang":
            await anyio.sleep(hang)
        if fault == "big":
            return "x" * BIG_BYTES
        if fault == "exit":
            sys.exit(f"work_async: exiting, as planned for conversation {n}")
        return f"work_async did {n}"

    return [
        StructuredTool.from_function(
            func=work_sync, name="work_sync", description="Does conversation n's work (sync)."
        ),
        StructuredTool.from_function(
            coroutine=work_async, name="work_async", description="Does conversation n's work."
        ),
    ]
