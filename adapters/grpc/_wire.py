"""What both ends of ``brainjar.v1.ToolService`` agree on: tool messages, digests, proofs, MACs.

Every MAC is HMAC-SHA256 under the token over ``fields(context, ...)``: each part
as a 4-byte big-endian length and its bytes, so no two different lists of parts
give the same input. Each context string says what the MAC is for, so a MAC made
for one purpose (a proof, a request, an answer) is never accepted for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from brainjar.adapters.grpc import tool_service_pb2 as pb
from brainjar.adapters.grpc import tool_service_pb2_grpc as pb_grpc

from brainjar.tools._tool import Tool

__all__ = [
    "PROTOCOL_VERSION",
    "SERVICE_NAME",
    "add_servicer",
    "bearer",
    "digest",
    "fields",
    "method_path",
    "proof",
    "request_mac",
    "response_mac",
    "stub",
    "tool_messages",
]

SERVICE_NAME = "brainjar.v1.ToolService"
PROTOCOL_VERSION = "1"
_PROOF_CONTEXT = b"brainjar.v1/describe"
_REQUEST_CONTEXT = b"brainjar.v1/request"
_RESPONSE_CONTEXT = b"brainjar.v1/response"


def method_path(name: str) -> str:
    """The full gRPC method name of one of the service's RPCs: ``/brainjar.v1.ToolService/X``."""
    return f"/{SERVICE_NAME}/{name}"


def tool_messages(tools: Sequence[Tool]) -> list[pb.Tool]:
    """The tools as wire messages."""
    return [
        pb.Tool(
            name=t.name,
            description=t.description,
            parameters_json=json.dumps(t.parameters, sort_keys=True, ensure_ascii=False),
        )
        for t in tools
    ]


def digest(tools: Sequence[Tool]) -> str:
    """A short hash of the tool list: names, descriptions and schemas, in name order."""
    body = json.dumps(
        sorted([t.name, t.description, t.parameters] for t in tools),
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def fields(*parts: bytes) -> bytes:
    """The parts, each prefixed by its length (4 bytes, big-endian): an unambiguous joining."""
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def _mac(token: str, message: bytes) -> bytes:
    return hmac.new(token.encode(), message, hashlib.sha256).digest()


def proof(token: str, *, instance: str, nonce: bytes, session: bytes = b"") -> bytes:
    """What a service that knows ``token`` answers to ``nonce``; the token itself never travels."""
    return _mac(token, fields(_PROOF_CONTEXT, instance.encode(), nonce, session))


def request_mac(token: str, *, session: bytes, seq: int, method: str, request: bytes) -> bytes:
    """The caller's MAC over one request: its session, sequence number, method and bytes."""
    body = hashlib.sha256(request).digest()
    return _mac(token, fields(_REQUEST_CONTEXT, session, b"%d" % seq, method.encode(), body))


def response_mac(
    token: str, *, session: bytes, seq: int, index: int, method: str, response: bytes
) -> bytes:
    """The service's MAC over answer ``index`` (0 for a unary call) to request ``seq``."""
    body = hashlib.sha256(response).digest()
    parts = (session, b"%d" % seq, b"%d" % index, method.encode(), body)
    return _mac(token, fields(_RESPONSE_CONTEXT, *parts))


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries ``token``."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def stub(channel: Any) -> Any:
    """A ``ToolService`` client stub on ``channel`` (the generated class is untyped)."""
    return pb_grpc.ToolServiceStub(channel)  # type: ignore[no-untyped-call, unused-ignore]


def add_servicer(servicer: Any, server: Any) -> None:
    """Adds ``servicer`` to a gRPC server (the generated function is untyped)."""
    pb_grpc.add_ToolServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call, unused-ignore]
