"""How brainjar's processes run their event loop: on uvloop where it is installed.

uvloop (libuv, in C) is declared for Linux and macOS; elsewhere, or if it is
missing, asyncio's own loop runs. On uvloop a jar spends about a fifth less CPU
per request it serves (``bench/bench_http_halves.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ["run"]

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    """``anyio.run(main)`` on uvloop if it can be imported, else on asyncio's loop."""
    return anyio.run(main, backend_options={"loop_factory": _loop_factory()})


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
