"""Serving one endpoint's ASGI app, behind the guard, with ``brainjar.http.serve_asgi``.

Readiness is uvicorn's own startup finishing, never a sleep. On cancellation the
endpoint drains: it goes on listening, answers ``/readyz`` and new conversations
with 503, lets conversations in flight finish within its grace (``STOP_GRACE``
unless told), then stops uvicorn and closes. Every request first passes
``brainjar.http.Guard``: Host and Origin (403) and the bearer token (401), refused
in the API's own error layout.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brainjar.http import Guard, Refusal, serve_and_drain
from brainjar.observe._http import Observed

from ._http import (
    LOG_KEY,
    MAX_BODY_BYTES,
    EndpointState,
    ErrorLayout,
    HttpSettings,
    Problem,
    RequestLog,
)

if TYPE_CHECKING:
    from brainjar.jar._jar import Jar

__all__ = ["HEALTH_PATHS", "STOP_GRACE", "HttpEndpoint"]

log = logging.getLogger("brainjar.endpoints")

# How long requests in flight may go on after the endpoint is told to stop.
STOP_GRACE = 10.0
# Paths every endpoint serves without a token: probes must not need a secret.
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})

AppBuilder = Callable[[EndpointState], ASGIApp]


def _plain_layout(problem: Problem) -> dict[str, Any]:
    return {"error": problem.message}


class HttpEndpoint:
    """An HTTP endpoint of a jar: an ASGI app served by uvicorn until cancelled.

    Args:
        config: where it listens and its limits.
        kind: ``openai`` or ``ollama``, for messages and logs.
        build: makes the ASGI app for an endpoint's state.
        url_path: appended to ``http://host:port`` in the URL reported (``/v1``).
        max_body: the largest request body read, in bytes.
        log: receives one record per request (method, path, status, seconds, and for
            a conversation: model, stream, steps, stop_reason, error, disconnected).
        errors: the API's error layout, for requests the guard refuses.
        open_paths: paths served without the token, besides ``HEALTH_PATHS``.
        grace: seconds conversations in flight may go on once it is stopped;
            default ``STOP_GRACE``.
    """

    def __init__(
        self,
        config: HttpSettings,
        *,
        kind: str,
        build: AppBuilder,
        url_path: str = "",
        max_body: int = MAX_BODY_BYTES,
        log: RequestLog | None = None,
        errors: ErrorLayout = _plain_layout,
        open_paths: Collection[str] = (),
        grace: float | None = None,
    ) -> None:
        self.config = config
        self.grace = grace
        self.kind = kind
        self._build = build
        self._url_path = url_path
        self._max_body = max_body
        self._log = log
        self._errors = errors
        self._open_paths = HEALTH_PATHS | frozenset(open_paths)

    async def serve(
        self, jar: Jar, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serves ``jar`` until cancelled; reports the URL clients use once it listens.

        Raises:
            TransportError: the address cannot be bound, or uvicorn did not start.
        """
        state = EndpointState(jar=jar, config=self.config, kind=self.kind, max_body=self._max_body)
        metrics = jar.observer.metrics
        if metrics is not None:
            metrics.track(self.kind, state.gate)
            state.gate.on_admit = metrics.queue_wait.labels(self.kind).observe
        app: ASGIApp = Guard(
            Observed(self._build(state), registry=metrics.registry if metrics else None),
            bound_host=self.config.host,
            token=self.config.token,
            allowed_origins=self.config.allowed_origins,
            open_paths=self._open_paths,
            render=self._render,
        )
        if self._log is not None:
            app = _Logged(app, kind=self.kind, log=self._log)

        grace = STOP_GRACE if self.grace is None else self.grace

        def begin() -> None:
            state.draining = True

        try:
            await serve_and_drain(
                app,
                host=self.config.host,
                port=self.config.port,
                what=f"the {self.kind} endpoint",
                url_path=self._url_path,
                begin_drain=begin,
                drain=lambda: _drain(state, grace=grace, kind=self.kind),
                task_status=task_status,
            )
        finally:
            if metrics is not None:
                metrics.untrack(state.gate)

    def _render(self, refusal: Refusal) -> tuple[str, bytes]:
        problem = Problem(refusal.status, refusal.message, code=refusal.code)
        return "application/json", json.dumps(self._errors(problem)).encode()


async def _drain(state: EndpointState, *, grace: float, kind: str) -> None:
    """Waits for the conversations in flight, within ``grace``; says if some outlive it."""
    with anyio.move_on_after(grace):
        await state.gate.wait_idle()
    if state.gate.running:
        log.warning(
            "the %s endpoint cuts off %d conversations still running after its grace of %gs",
            kind,
            state.gate.running,
            grace,
        )


class _Logged:
    """Calls the request log with one record per HTTP request, after it ends."""

    def __init__(self, app: ASGIApp, *, kind: str, log: RequestLog) -> None:
        self.app = app
        self.kind = kind
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record: dict[str, Any] = {
            "endpoint": self.kind,
            "method": scope["method"],
            "path": scope["path"],
            "status": None,
        }
        scope[LOG_KEY] = record
        began = time.perf_counter()

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            record["seconds"] = round(time.perf_counter() - began, 6)
            try:
                self.log(record)
            except Exception:
                log.exception("the request log of the %s endpoint failed", self.kind)
