"""``/metrics`` and the caller's trace context, for any ASGI app of a jar."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from ._metrics import CONTENT_TYPE
from ._tracing import remote_parent, tracer

__all__ = ["METRICS_PATH", "Observed"]

METRICS_PATH = "/metrics"


class Observed:
    """``app`` with ``GET /metrics`` (when given a registry) and the caller's ``traceparent``.

    Args:
        app: the endpoint's app.
        registry: the jar's metrics; None: no ``/metrics``.
    """

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry | None) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.registry is not None and scope["path"] == METRICS_PATH:
            await self._metrics(scope, send)
            return
        if tracer() is None:
            await self.app(scope, receive, send)
            return
        headers = ((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        with remote_parent(headers):
            await self.app(scope, receive, send)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        assert self.registry is not None
        if scope["method"] not in ("GET", "HEAD"):
            body, status, kind = b"use GET /metrics\n", 405, b"text/plain"
        else:
            body, status, kind = generate_latest(self.registry), 200, CONTENT_TYPE.encode()
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})
