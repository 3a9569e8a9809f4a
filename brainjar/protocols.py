"""The contracts between brainjar's parts: small Protocols, no implementations.

- ``ModelClient``: how the loop talks to a model server.
- ``ToolSource``: where tools come from (LangChain, MCP, gRPC, discovery).
- ``Endpoint``: how a running jar is offered to the world (HTTP, MCP, gRPC).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

    from brainjar.jar import Jar
    from brainjar.runtime import Message, ModelResponse, ModelTextDelta
    from brainjar.tools import Tool, ToolSpec

__all__ = ["Endpoint", "ModelClient", "ToolSource"]


@runtime_checkable
class ModelClient(Protocol):
    """Talks to one model server."""

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """Asks the model for one turn.

        Yields text deltas as they arrive, then exactly one ``ModelResponse``
        with the whole assistant message (text and tool calls). Raises
        ``ModelError`` when the server refuses, fails or cannot be reached.
        The loop closes the generator (``aclose``) however the step ends.
        """
        ...

    async def aclose(self) -> None:
        """Releases connections."""
        ...


@runtime_checkable
class ToolSource(Protocol):
    """A place tools come from. Open it with ``async with``; then ``tools()``.

    A source may change its tools while open (an MCP server's list changed, a
    discovered service came or went): ``tools()`` is read again before every
    model step, so a change is seen at the next step, and ``version`` goes up,
    so whoever serves the tools can ``wait_changed`` instead of polling.
    """

    @property
    def name(self) -> str:
        """Where the tools live, for people: ``langchain:pkg.mod:Name``, ``mcp:time``."""
        ...

    def tools(self) -> Sequence[Tool]:
        """The tools offered now."""
        ...

    @property
    def version(self) -> int:
        """Goes up whenever ``tools()`` may have changed."""
        ...

    async def wait_changed(self, seen: int) -> int:
        """Waits until ``version`` differs from ``seen``; returns the new version."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Endpoint(Protocol):
    """Offers a running jar over some protocol until cancelled."""

    async def serve(self, jar: Jar, *, task_status: TaskStatus[str]) -> None:
        """Serves ``jar``; reports where it listens through ``task_status.started(url)``."""
        ...
