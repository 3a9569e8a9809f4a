"""How a tool call in flight reports progress and log messages to whoever asked for it.

The caller (the MCP gateway serving a ``tools/call``) sets a ``CallReporter``
for the call with ``reporting``; a source that hears progress or log messages
for the call (an upstream MCP server) sends them to ``current_reporter()``.
The context variable follows the call into the tasks it starts, through every
policy wrapper, so no tool signature changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["CallReporter", "current_reporter", "reporting"]


class CallReporter(Protocol):
    """Where the progress and log messages of one tool call go."""

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """The call got this far (of ``total``, when known)."""
        ...

    async def log(self, level: str, data: Any, logger: str | None) -> None:
        """The tool logged ``data`` at ``level`` (MCP's syslog levels)."""
        ...


_reporter: ContextVar[CallReporter | None] = ContextVar("brainjar_call_reporter", default=None)


def current_reporter() -> CallReporter | None:
    """The reporter of the call being made in this context, if its caller set one."""
    return _reporter.get()


@contextmanager
def reporting(reporter: CallReporter | None) -> Iterator[None]:
    """Sends the progress and log messages of calls made inside to ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
