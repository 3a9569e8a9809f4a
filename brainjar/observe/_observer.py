"""One observer per jar: it reads the loop's events and wraps the model client.

A conversation is observed as it runs: its span, the current one while the
loop runs, parents the model requests' spans (from the client wrapper, which
also sees each request's usage) and the tool calls' spans (opened on
``ToolCallStarted`` and closed on its ``ToolCallFinished``/``ToolCallFailed``, in
the tool call's own task, so a remote tool's client sends the tool span on as
its ``traceparent``). Text deltas pass straight through: nothing is counted per
token.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing, contextmanager
from typing import TYPE_CHECKING, Any

import anyio

from brainjar.runtime._events import (
    Answer,
    Event,
    StepStarted,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta

from ._metrics import JarMetrics, ModelProcess
from ._tracing import tracer

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from brainjar.protocols import ModelClient
    from brainjar.tools._tool import ToolSpec

__all__ = ["Observation", "Observer"]

Emit = Callable[[Event], Awaitable[None]]


class Observer:
    """Metrics and traces for one jar.

    Args:
        name: the jar's name.
        model: the model's name, for ``gen_ai.request.model``.
        metrics: keep Prometheus metrics (``spec.observe.metrics``).
        process: reads the model process's state and restarts, at each scrape.
    """

    def __init__(
        self,
        name: str,
        *,
        model: str,
        metrics: bool = True,
        process: ModelProcess | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.metrics = JarMetrics(model=model, process=process) if metrics else None

    @contextmanager
    def conversation(self) -> Iterator[Observation]:
        """Observes one conversation, run inside the block (in the block's task)."""
        trace = tracer()
        if trace is None:
            observation = Observation(self, None, None)
            with _counted(observation):
                yield observation
            return
        from opentelemetry import trace as api

        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name,
            "gen_ai.request.model": self.model,
        }
        with trace.start_as_current_span(
            f"invoke_agent {self.name}", attributes=attributes, record_exception=False
        ) as span:
            observation = Observation(self, trace, span)
            try:
                with _counted(observation):
                    yield observation
            except BaseException as exc:
                span.set_status(api.Status(api.StatusCode.ERROR, type(exc).__name__))
                span.set_attribute("error.type", observation.outcome)
                raise
            finally:
                observation.end_open_tools()


@contextmanager
def _counted(observation: Observation) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    except anyio.get_cancelled_exc_class():
        observation.outcome = "cancelled"
        raise
    except BaseException:
        observation.outcome = "error"
        raise
    finally:
        metrics = observation.observer.metrics
        if metrics is not None:
            metrics.conversations.labels(observation.outcome).inc()
            metrics.conversation_duration.observe(time.perf_counter() - began)


class Observation:
    """One conversation being observed: wrap its model client and its ``emit`` with it."""

    def __init__(self, observer: Observer, trace: Tracer | None, span: Span | None) -> None:
        self.observer = observer
        self.outcome = "cancelled"
        self._tracer = trace
        self._span = span
        self._tools: dict[str, tuple[Span, Token[Context]]] = {}

    def client(self, client: ModelClient) -> ModelClient:
        """``client``, with each request timed, counted and traced."""
        if self.observer.metrics is None and self._tracer is None:
            return client
        return _ObservedClient(client, self)

    def emit(self, emit: Emit) -> Emit:
        """``emit``, seeing each event on its way."""
        metrics = self.observer.metrics
        tracing = self._tracer is not None
        if metrics is None and not tracing:
            return emit

        async def observed(event: Event) -> None:
            if type(event) is not TextDelta:
                if metrics is not None:
                    _count(metrics, event)
                if tracing:
                    self._trace(event)
                if type(event) is Answer:
                    self.outcome = event.stop_reason
                    if self._span is not None:
                        _usage(self._span, event)
            await emit(event)

        return observed

    def _trace(self, event: Event) -> None:
        from opentelemetry import context
        from opentelemetry import trace as api

        assert self._tracer is not None
        if isinstance(event, ToolCallStarted):
            span = self._tracer.start_span(
                f"execute_tool {event.name}",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": event.name,
                    "gen_ai.tool.call.id": event.call_id,
                    "gen_ai.tool.type": "function",
                },
            )
            # Current in this task (the tool call's) until the call ends: a remote
            # tool's client sends it on as the traceparent.
            token = context.attach(api.set_span_in_context(span))
            self._tools[event.call_id] = (span, token)
        elif isinstance(event, ToolCallFinished | ToolCallFailed):
            opened = self._tools.pop(event.call_id, None)
            if opened is None:
                return
            span, token = opened
            if isinstance(event, ToolCallFailed):
                span.set_attribute("error.type", event.kind)
                span.set_status(api.Status(api.StatusCode.ERROR, event.kind))
            span.end()
            context.detach(token)

    def end_open_tools(self) -> None:
        """Ends the spans of tool calls the conversation's end cut off."""
        for span, _ in self._tools.values():
            span.set_attribute("error.type", "cancelled")
            span.end()
        self._tools.clear()


def _count(metrics: JarMetrics, event: Event) -> None:
    if isinstance(event, StepStarted):
        metrics.steps.inc()
    elif isinstance(event, ToolCallFinished):
        metrics.tools.record(event.name, "ok", event.seconds)
    elif isinstance(event, ToolCallFailed):
        metrics.tools.record(event.name, event.kind, event.seconds)


def _usage(span: Span, answer: Answer) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", answer.usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", answer.usage.completion_tokens)
    span.set_attribute("brainjar.steps", answer.steps)
    span.set_attribute("brainjar.stop_reason", answer.stop_reason)


class _ObservedClient:
    """A model client whose every request is timed, counted and traced."""

    def __init__(self, client: ModelClient, observation: Observation) -> None:
        self._client = client
        self._observation = observation

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        observer = self._observation.observer
        trace = self._observation._tracer
        span = None
        if trace is not None:
            span = trace.start_span(
                f"chat {observer.model}",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": observer.model,
                },
            )
        began = time.perf_counter()
        outcome = "cancelled"
        response: ModelResponse | None = None
        try:
            async with aclosing(
                self._client.stream(messages, tools=tools, parameters=parameters)
            ) as chunks:
                async for chunk in chunks:
                    if type(chunk) is not ModelTextDelta:
                        response = chunk  # type: ignore[assignment]
                    yield chunk
            outcome = "ok"
        except Exception:
            outcome = "error"
            raise
        finally:
            seconds = time.perf_counter() - began
            usage = response.usage if response is not None else None
            inputs = usage.prompt_tokens if usage is not None else 0
            outputs = usage.completion_tokens if usage is not None else 0
            if observer.metrics is not None:
                observer.metrics.model_request(
                    seconds=seconds, outcome=outcome, input_tokens=inputs, output_tokens=outputs
                )
            if span is not None:
                _end_request(span, outcome=outcome, response=response)


def _end_request(span: Span, *, outcome: str, response: ModelResponse | None) -> None:
    from opentelemetry import trace as api

    if response is not None:
        span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)
        if response.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
    if outcome != "ok":
        span.set_attribute("error.type", outcome)
        span.set_status(api.Status(api.StatusCode.ERROR, outcome))
    span.end()
