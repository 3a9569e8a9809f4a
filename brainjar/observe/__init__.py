"""Metrics and traces: Prometheus ``/metrics`` and OpenTelemetry spans of a jar.

One ``Observer`` per jar reads the loop's events and wraps its model client;
endpoints add ``/metrics`` and take the caller's ``traceparent`` with
``Observed``; ``serve-tools`` counts its calls with ``ObservedTools``.
OpenTelemetry is imported only when tracing is on (see ``_tracing``), and names
are imported on first use, so a tool client that only sends its trace context
on does not load prometheus_client.

May import: runtime, tools, process, protocols, _errors.
"""

from typing import TYPE_CHECKING, Any

__all__ = [
    "METRICS_PATH",
    "TRACEPARENT",
    "JarMetrics",
    "Observation",
    "Observed",
    "ObservedTools",
    "Observer",
    "ToolMetrics",
    "remote_parent",
    "trace_headers",
    "tracer",
    "use_tracer_provider",
]

if TYPE_CHECKING:
    from ._http import METRICS_PATH, Observed
    from ._metrics import JarMetrics, ToolMetrics
    from ._observer import Observation, Observer
    from ._tools import ObservedTools
    from ._tracing import TRACEPARENT, remote_parent, trace_headers, tracer, use_tracer_provider

_LAZY = {
    "METRICS_PATH": "._http",
    "Observed": "._http",
    "JarMetrics": "._metrics",
    "ToolMetrics": "._metrics",
    "Observation": "._observer",
    "Observer": "._observer",
    "ObservedTools": "._tools",
    "TRACEPARENT": "._tracing",
    "remote_parent": "._tracing",
    "trace_headers": "._tracing",
    "tracer": "._tracing",
    "use_tracer_provider": "._tracing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brainjar.observe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
