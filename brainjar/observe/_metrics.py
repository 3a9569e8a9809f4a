"""A jar's Prometheus metrics, in a registry of its own.

Counters and histograms are updated once per conversation, model request and
tool call (never per token); the queue depth and conversations in flight when
they change; the model process's state is read when Prometheus scrapes. The
workers of ``brainjar run --workers N`` keep their values in one folder
(prometheus_client's multiprocess mode): a scrape of any worker reads them all,
counters and histograms summed, the two gauges summed over the workers.

Names follow Prometheus conventions and the OpenTelemetry GenAI metric names
where there is one
(``gen_ai.client.operation.duration`` -> ``gen_ai_client_operation_duration_seconds``,
``gen_ai.client.token.usage`` -> ``gen_ai_client_token_usage``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from brainjar._worker import published_model_state, worker_role

__all__ = ["CONTENT_TYPE", "GaugeSource", "JarMetrics", "ModelProcess", "ToolMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a fast tool call (milliseconds) to a long conversation (minutes).
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# The OpenTelemetry GenAI conventions' advised buckets for token counts.
TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
STATES = ("starting", "ready", "restarting", "failed", "stopped")


class GaugeSource(Protocol):
    """What an endpoint's admission reports: conversations running and waiting.

    It calls ``on_change`` (when set) after either changed.
    """

    running: int
    waiting: int
    on_change: Callable[[], None] | None


ModelProcess = Callable[[], tuple[str, int]]
"""The model process's state (``ready``, ``restarting``...) and its restarts so far."""


class ToolMetrics:
    """Calls, failures and latency per tool; what ``serve-tools`` exports."""

    def __init__(self, registry: CollectorRegistry, *, prefix: str) -> None:
        self.calls = Counter(
            f"{prefix}_calls",
            "Tool calls, by tool and outcome (ok, or why it failed).",
            ["tool", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            f"{prefix}_call_duration_seconds",
            "How long tool calls took, by tool.",
            ["tool"],
            buckets=SECONDS,
            registry=registry,
        )

    def record(self, tool: str, outcome: str, seconds: float) -> None:
        """Counts one call."""
        self.calls.labels(tool, outcome).inc()
        self.duration.labels(tool).observe(seconds)


class JarMetrics:
    """Every metric of one jar, in ``registry`` (not the process-wide default one).

    Args:
        model: the model's name, for ``gen_ai_request_model``.
        process: reads the model process's state and restarts, at each scrape.
    """

    def __init__(self, *, model: str, process: ModelProcess | None = None) -> None:
        r = CollectorRegistry(auto_describe=True)
        role = worker_role()
        if role is not None and role.metrics is not None:
            # What /metrics shows: every worker's values, read from their folder, and
            # the model process as the parent's supervisor sees it.
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, path=role.metrics)  # type: ignore[no-untyped-call]
            process = _published(role.metrics, process)
        else:
            self.registry = r
        self.model = model
        self.conversations = Counter(
            "brainjar_conversations",
            "Conversations ended, by outcome (answer, length, max_steps, error, cancelled).",
            ["outcome"],
            registry=r,
        )
        self.conversation_duration = Histogram(
            "brainjar_conversation_duration_seconds",
            "How long conversations took, from the first model request to the answer.",
            buckets=SECONDS,
            registry=r,
        )
        self.steps = Counter("brainjar_steps", "Model steps of all conversations.", registry=r)
        self.model_requests = Counter(
            "brainjar_model_requests",
            "Requests to the model, by outcome (ok, error, cancelled).",
            ["outcome"],
            registry=r,
        )
        self.operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration: one model request (OpenTelemetry GenAI name).",
            ["gen_ai_operation_name", "gen_ai_request_model", "error_type"],
            buckets=SECONDS,
            registry=r,
        )
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens per model request, by gen_ai_token_type (input, output); _sum is the total.",
            ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_token_type"],
            buckets=TOKENS,
            registry=r,
        )
        self.tools = ToolMetrics(r, prefix="brainjar_tool")
        self.queue_wait = Histogram(
            "brainjar_queue_wait_seconds",
            "How long conversations waited for a slot (max_concurrency), by endpoint.",
            ["endpoint"],
            buckets=SECONDS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "brainjar_queue_depth",
            "Conversations waiting for a slot, by endpoint.",
            ["endpoint"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.in_flight = Gauge(
            "brainjar_conversations_in_flight",
            "Conversations running now, by endpoint.",
            ["endpoint"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self._gates: dict[GaugeSource, str] = {}  # each tracked gate: its endpoint
        self.registry.register(_ModelProcess(process))

    def track(self, endpoint: str, gate: GaugeSource) -> None:
        """Reports ``gate``'s queue depth and conversations in flight as ``endpoint``'s."""
        depth, running = self.queue_depth.labels(endpoint), self.in_flight.labels(endpoint)

        def changed() -> None:
            depth.set(gate.waiting)
            running.set(gate.running)

        self._gates[gate] = endpoint
        gate.on_change = changed
        changed()

    def untrack(self, gate: GaugeSource) -> None:
        """Stops reporting ``gate`` (its endpoint stopped)."""
        gate.on_change = None
        endpoint = self._gates.pop(gate, None)
        if endpoint is not None and endpoint not in self._gates.values():
            self.queue_depth.remove(endpoint)
            self.in_flight.remove(endpoint)

    def model_request(
        self, *, seconds: float, outcome: str, input_tokens: int, output_tokens: int
    ) -> None:
        """Counts one model request."""
        self.model_requests.labels(outcome).inc()
        error = "" if outcome == "ok" else outcome
        self.operation_duration.labels("chat", self.model, error).observe(seconds)
        if outcome == "ok":
            self.token_usage.labels("chat", self.model, "input").observe(input_tokens)
            self.token_usage.labels("chat", self.model, "output").observe(output_tokens)


def _published(folder: str, own: ModelProcess | None) -> ModelProcess:
    """The model process as the parent last published it; else as this worker sees it."""

    def read() -> tuple[str, int]:
        said = published_model_state(folder)
        if said is not None:
            return said
        return own() if own is not None else ("ready", 0)

    return read


class _ModelProcess(Collector):
    """The model process's state and restarts, read at scrape time (when it has one)."""

    def __init__(self, process: ModelProcess | None) -> None:
        self._process = process

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        if self._process is None:
            return
        state, restarts = self._process()
        gauge = GaugeMetricFamily(
            "brainjar_model_process_state",
            "1 for the state the model process is in now.",
            labels=["state"],
        )
        for name in STATES:
            gauge.add_metric([name], 1.0 if name == state else 0.0)
        yield gauge
        yield CounterMetricFamily(
            "brainjar_model_process_restarts",
            "Times the supervisor started the model process again.",
            value=restarts,
        )
