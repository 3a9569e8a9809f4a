"""A tool service's token, proven and used without ever travelling: sessions and per-request MACs.

``Describe`` opens a session: the service answers the caller's nonce with a fresh
random session id and a proof (an HMAC under the token over its name, the nonce
and the session). A brainjar client that holds the token then signs every
request with ``brainjar-session``, ``brainjar-seq`` (each number once per
session) and ``brainjar-mac`` (over the session, the number, the method and the
request's bytes); the service checks that, refuses a number seen before, and
seals each answer with its own MAC. A man in the middle that relays all of it
only ever forwards requests the real service answers; it learns no secret and
cannot replay, alter or answer a request itself.

``authorization: Bearer <token>`` is still accepted from other clients
(grpcurl, scripts), who send the token itself and so must trust their wire.
"""

from __future__ import annotations

import hmac
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import grpc

from ._wire import method_path, proof, request_mac, response_mac

__all__ = [
    "MAX_SESSIONS",
    "REPLAY_WINDOW",
    "MacSession",
    "Sessions",
    "TokenInterceptor",
    "is_stale",
    "sealed_bytes",
    "token_matches",
]

# Sessions a service keeps at once; the least recently used is forgotten first
# (its client then opens another: one more Describe).
MAX_SESSIONS = 4096
# How far behind the highest sequence number a request may arrive (calls run in parallel).
REPLAY_WINDOW = 1024
# Bytes of a session id.
SESSION_BYTES = 16
# The metadata of a MAC'd request, and the trailer that says "open a new session".
SESSION_KEY = "brainjar-session"
SEQ_KEY = "brainjar-seq"
MAC_KEY = "brainjar-mac"
STALE_KEY = "brainjar-auth"
STALE = "session-unknown"
DESCRIBE = method_path("Describe")


def token_matches(header: str, token: str) -> bool:
    """Whether an ``authorization`` value carries ``token`` (scheme case-insensitive)."""
    scheme, _, value = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def sealed_bytes(message: Any) -> bytes:
    """A message's bytes as its MAC covers them: deterministic, with ``mac`` empty."""
    copy = type(message)()
    copy.CopyFrom(message)
    copy.ClearField("mac")
    return bytes(copy.SerializeToString(deterministic=True))


@dataclass
class _Window:
    """The sequence numbers one session has used (a sliding window, as IPsec's)."""

    high: int = -1
    seen: set[int] = field(default_factory=set)

    def accept(self, seq: int) -> bool:
        if seq < 0 or seq <= self.high - REPLAY_WINDOW or seq in self.seen:
            return False
        self.seen.add(seq)
        if seq > self.high:
            self.high = seq
            if len(self.seen) > 2 * REPLAY_WINDOW:
                self.seen = {n for n in self.seen if n > self.high - REPLAY_WINDOW}
        return True


class Sessions:
    """The open sessions of one service, at most ``limit``."""

    def __init__(self, *, limit: int = MAX_SESSIONS) -> None:
        self._open: OrderedDict[bytes, _Window] = OrderedDict()
        self._limit = limit

    def new(self) -> bytes:
        """A fresh session id."""
        session = os.urandom(SESSION_BYTES)
        self._open[session] = _Window()
        while len(self._open) > self._limit:
            self._open.popitem(last=False)
        return session

    def known(self, session: bytes) -> bool:
        """Whether ``session`` is open."""
        return session in self._open

    def accept(self, session: bytes, seq: int) -> bool:
        """Uses ``seq`` in ``session``: False for an unknown session or a number seen before."""
        window = self._open.get(session)
        if window is None:
            return False
        self._open.move_to_end(session)
        return window.accept(seq)


@dataclass
class MacSession:
    """A client's side of one session: it signs requests and checks the answers.

    Attributes:
        token: the shared token.
        session: the id the service gave with its proof.
    """

    token: str
    session: bytes
    _seq: count[int] = field(default_factory=count, repr=False)

    def sign(self, method: str, request: Any) -> tuple[int, tuple[tuple[str, str], ...]]:
        """The next sequence number and the metadata that authenticate ``request``."""
        seq = next(self._seq)
        body = request.SerializeToString(deterministic=True)
        mac = request_mac(self.token, session=self.session, seq=seq, method=method, request=body)
        metadata = ((SESSION_KEY, self.session.hex()), (SEQ_KEY, str(seq)), (MAC_KEY, mac.hex()))
        return seq, metadata

    def check(self, method: str, seq: int, reply: Any, *, index: int = 0) -> bool:
        """Whether ``reply`` carries the service's MAC for answer ``index`` to request ``seq``."""
        expected = response_mac(
            self.token,
            session=self.session,
            seq=seq,
            index=index,
            method=method,
            response=sealed_bytes(reply),
        )
        return hmac.compare_digest(bytes(reply.mac), expected)


def is_stale(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the service refused a call because it does not know the session (any more)."""
    if exc.code() != grpc.StatusCode.UNAUTHENTICATED:
        return False
    return any(key == STALE_KEY and value == STALE for key, value in exc.trailing_metadata() or ())


Behaviour = Callable[[Any, Any], Any]


class TokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Opens sessions on ``Describe``; lets through only MAC'd (or bearer) calls; seals answers.

    Args:
        token: the service's token.
        instance: the service's name, for the message.
        open_methods: full method names served without a token (Describe, reflection).
    """

    def __init__(self, token: str, *, instance: Callable[[], str], open_methods: Collection[str]):
        self._token = token
        self._instance = instance
        self._open = frozenset(open_methods)
        self.sessions = Sessions()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        handler = await continuation(details)
        if handler is None:
            return handler
        if method == DESCRIBE:
            return _rewrap(handler, self._describe(handler.unary_unary))
        if method in self._open or method.startswith("/grpc.health.v1."):
            return handler
        metadata = dict(details.invocation_metadata or ())
        sent = metadata.get("authorization", "")
        if isinstance(sent, str) and sent and token_matches(sent, self._token):
            return handler
        if SESSION_KEY in metadata:
            return self._mac_checked(handler, method, metadata)
        message = (
            f"{self._instance()} does not accept that token"
            if sent
            else f"{self._instance()} needs a token: brainjar clients set token; others send "
            "metadata 'authorization: Bearer <token>'"
        )
        return _refusal(handler, message)

    def _describe(self, describe: Behaviour) -> Behaviour:
        async def behaviour(request: Any, context: Any) -> Any:
            reply = await describe(request, context)
            session = self.sessions.new()
            nonce = bytes(request.nonce)[:64]
            reply.session = session
            reply.proof = proof(self._token, instance=reply.instance, nonce=nonce, session=session)
            return reply

        return behaviour

    def _mac_checked(
        self, handler: grpc.RpcMethodHandler, method: str, metadata: dict[str, Any]
    ) -> grpc.RpcMethodHandler:
        parsed = _parse(metadata)
        token, sessions, instance = self._token, self.sessions, self._instance

        async def admit(raw: bytes, context: Any) -> tuple[bytes, int]:
            if parsed is None:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "malformed MAC metadata")
                raise AssertionError
            session, seq, mac = parsed
            if not sessions.known(session):
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"{instance()} does not know that session (restarted, or it expired): "
                    "call Describe again",
                    trailing_metadata=((STALE_KEY, STALE),),
                )
            expected = request_mac(token, session=session, seq=seq, method=method, request=raw)
            if not hmac.compare_digest(mac, expected):
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"{instance()} does not accept that request's MAC (another token, or a "
                    "request changed on the way)",
                )
            if not sessions.accept(session, seq):
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"{instance()} has seen request {seq} of that session before (a replay)",
                )
            return session, seq

        def seal(reply: Any, session: bytes, seq: int, index: int) -> Any:
            reply.mac = response_mac(
                token,
                session=session,
                seq=seq,
                index=index,
                method=method,
                response=sealed_bytes(reply),
            )
            return reply

        if handler.response_streaming:
            inner_stream = handler.unary_stream

            async def stream(request: tuple[bytes, Any], context: Any) -> AsyncIterator[Any]:
                session, seq = await admit(request[0], context)
                index = 0
                async for reply in inner_stream(request[1], context):
                    yield seal(reply, session, seq, index)
                    index += 1

            return _rewrap(handler, stream, raw=True)
        inner = handler.unary_unary

        async def unary(request: tuple[bytes, Any], context: Any) -> Any:
            session, seq = await admit(request[0], context)
            return seal(await inner(request[1], context), session, seq, 0)

        return _rewrap(handler, unary, raw=True)


def _parse(metadata: dict[str, Any]) -> tuple[bytes, int, bytes] | None:
    try:
        session = bytes.fromhex(str(metadata[SESSION_KEY]))
        seq_text = str(metadata[SEQ_KEY])
        mac = bytes.fromhex(str(metadata[MAC_KEY]))
    except (KeyError, ValueError):
        return None
    if not (seq_text.isascii() and seq_text.isdigit() and len(seq_text) <= 19):
        return None
    return session, int(seq_text), mac


def _rewrap(
    handler: grpc.RpcMethodHandler, behaviour: Behaviour, *, raw: bool = False
) -> grpc.RpcMethodHandler:
    """``handler`` with another behaviour; with ``raw`` it gets ``(bytes, request)``."""
    deserialize = handler.request_deserializer
    if raw:
        original = deserialize

        def deserialize(data: bytes) -> tuple[bytes, Any]:
            return data, original(data) if original else data

    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(
            behaviour,
            request_deserializer=deserialize,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=deserialize,
        response_serializer=handler.response_serializer,
    )


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - abort raises

    return _rewrap(handler, stream if handler.response_streaming else unary)
