"""Metrics and traces: Prometheus ``/metrics`` and OpenTelemetry spans of a jar.

One ``Observer`` per jar reads the loop's events and wraps its model client;
endpoints add ``/metrics`` and take the caller's ``traceparent`` with
``Observed``; ``serve-tools`` counts its calls with ``ObservedTools``.
OpenTelemetry is imported only when tracing is on (see ``_tracing``), and names
are imported on first use, so a tool client that only sends its trace context
on does not load prometheus_client.

May import: runtime, tools, process, protocols, _errors.
"""

from typing import TYPE_CHECKING

import lazy_loader

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

# The names above, each imported from its module on first use (PEP 562).
__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "_http": ["METRICS_PATH", "Observed"],
        "_metrics": ["JarMetrics", "ToolMetrics"],
        "_observer": ["Observation", "Observer"],
        "_tools": ["ObservedTools"],
        "_tracing": [
            "TRACEPARENT",
            "remote_parent",
            "trace_headers",
            "tracer",
            "use_tracer_provider",
        ],
    },
)
