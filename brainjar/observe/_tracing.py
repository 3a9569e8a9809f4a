"""OpenTelemetry traces: off unless the standard ``OTEL_*`` variables ask for them.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or its ``_TRACES_`` form) or
``OTEL_TRACES_EXPORTER`` is set (and not ``none``), or when a program hands a
tracer provider to ``use_tracer_provider``. OpenTelemetry is imported only then,
so a jar that does not trace starts as fast as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer, TracerProvider

__all__ = [
    "TRACEPARENT",
    "remote_parent",
    "trace_headers",
    "tracer",
    "use_tracer_provider",
]

log = logging.getLogger("brainjar.observe")

# The W3C trace context header (and gRPC metadata key): where a trace goes on.
TRACEPARENT = "traceparent"
# The instrumentation scope every brainjar span is recorded under.
SCOPE = "brainjar"

_state: dict[str, Any] = {"checked": False, "provider": None, "tracer": None}


def use_tracer_provider(provider: TracerProvider | None) -> None:
    """Records brainjar's spans with ``provider`` (None: as the environment says).

    For programs that set up OpenTelemetry themselves, and for tests (the SDK's
    ``InMemorySpanExporter``).
    """
    _state.update(checked=provider is not None, provider=provider, tracer=None)


def tracer() -> Tracer | None:
    """The tracer brainjar records spans with, or None while tracing is off."""
    found: Tracer | None = _state["tracer"]
    if found is not None or (_state["checked"] and _state["provider"] is None):
        return found
    if not _state["checked"]:
        _state["checked"] = True
        if _configured(os.environ):
            _state["provider"] = _from_environment(os.environ)
    provider = _state["provider"]
    if provider is None:
        return None
    _state["tracer"] = provider.get_tracer(SCOPE)
    return _state["tracer"]  # type: ignore[no-any-return]


def _configured(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _from_environment(env: Mapping[str, str]) -> TracerProvider:
    """A provider that batches spans to the exporters ``OTEL_TRACES_EXPORTER`` names."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    named = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": "brainjar"}
    provider = SdkProvider(resource=Resource.create(named))
    for name in (env.get("OTEL_TRACES_EXPORTER") or "otlp").lower().split(","):
        name = name.strip()
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env)))
        elif name and name != "none":
            log.warning(
                "OTEL_TRACES_EXPORTER names %r, which brainjar does not know: "
                "use otlp, console or none",
                name,
            )
    return provider


def _otlp_exporter(env: Mapping[str, str]) -> Any:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning(
                "OTEL_EXPORTER_OTLP_PROTOCOL is grpc, but opentelemetry-exporter-otlp-proto-grpc "
                "is not installed: spans go by http/protobuf; pip install it, or unset the variable"
            )
        else:
            return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


def trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``); empty while off."""
    if tracer() is None:
        return {}
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


@contextmanager
def remote_parent(headers: Iterable[tuple[str, str]]) -> Iterator[None]:
    """Makes the trace context a caller sent (``traceparent``) current for the block."""
    if tracer() is None:
        yield
        return
    carrier = {k.lower(): v for k, v in headers if k.lower() in (TRACEPARENT, "tracestate")}
    if not carrier:
        yield
        return
    from opentelemetry import context
    from opentelemetry.propagate import extract

    token = context.attach(extract(carrier))
    try:
        yield
    finally:
        context.detach(token)
