"""``serve-tools``' side: each call of a served tool counted, timed and traced."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from prometheus_client import CollectorRegistry

from brainjar._errors import ToolError
from brainjar.protocols import ToolSource
from brainjar.tools._tool import Tool, ToolResult

from ._metrics import ToolMetrics
from ._tracing import tracer

__all__ = ["ObservedTools"]


class ObservedTools:
    """``source``'s tools, each call counted in ``registry`` and traced as a server span.

    The span's parent is the caller's trace context, where the transport made it
    current (the gRPC server does, from the call's ``traceparent`` metadata).
    """

    def __init__(self, source: ToolSource) -> None:
        self.source = source
        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = ToolMetrics(self.registry, prefix="brainjar_tool_service")
        self._seen = -1
        self._tools: list[Tool] = []

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def version(self) -> int:
        return self.source.version

    async def wait_changed(self, seen: int) -> int:
        return await self.source.wait_changed(seen)

    def tools(self) -> Sequence[Tool]:
        version = self.source.version
        if version != self._seen:
            self._tools = [self._wrap(t) for t in self.source.tools()]
            self._seen = version
        return self._tools

    def _wrap(self, tool: Tool) -> Tool:
        inner, name, metrics = tool.call, tool.name, self.metrics

        async def call(arguments: dict[str, Any]) -> ToolResult:
            trace = tracer()
            began = time.perf_counter()
            outcome = "cancelled"
            span = None
            if trace is not None:
                from opentelemetry.trace import SpanKind

                span = trace.start_span(
                    f"execute_tool {name}",
                    kind=SpanKind.SERVER,
                    attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name},
                )
            try:
                result = await inner(arguments)
                outcome = "error" if result.is_error else "ok"
                return result
            except ToolError as exc:
                outcome = exc.kind or "error"
                raise
            except Exception:
                outcome = "error"
                raise
            finally:
                metrics.record(name, outcome, time.perf_counter() - began)
                if span is not None:
                    if outcome != "ok":
                        span.set_attribute("error.type", outcome)
                    span.end()

        return dataclasses.replace(tool, call=call)

    async def __aenter__(self) -> Self:
        await self.source.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.source.__aexit__(exc_type, exc, tb)
