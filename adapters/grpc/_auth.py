"""The bearer token of a tool service, checked once for every RPC by a server interceptor."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import grpc

__all__ = ["TokenInterceptor", "token_matches"]


def token_matches(header: str, token: str) -> bool:
    """Whether an ``authorization`` value carries ``token`` (scheme case-insensitive)."""
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


class TokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses RPCs without ``authorization: Bearer <token>`` with UNAUTHENTICATED.

    Args:
        token: the token callers must send.
        instance: the service's name, for the message.
        open_methods: full method names served without a token (Describe, health).
    """

    def __init__(self, token: str, *, instance: Callable[[], str], open_methods: Collection[str]):
        self._token = token
        self._instance = instance
        self._open = frozenset(open_methods)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        if method in self._open or method.startswith("/grpc.health.v1."):
            return await continuation(details)
        sent = dict(details.invocation_metadata or ()).get("authorization", "")
        if isinstance(sent, str) and token_matches(sent, self._token):
            return await continuation(details)
        message = (
            f"{self._instance()} does not accept that token"
            if sent
            else f"{self._instance()} needs a token: send metadata 'authorization: Bearer <token>'"
        )
        handler = await continuation(details)
        return _refusal(handler, message)


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - abort raises

    if handler is not None and handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        unary,
        request_deserializer=getattr(handler, "request_deserializer", None),
        response_serializer=getattr(handler, "response_serializer", None),
    )
