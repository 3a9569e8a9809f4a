"""What both ends of ``brainjar.v1.ToolService`` agree on: tool messages, digests, proofs."""

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
    "proof",
    "stub",
    "tool_messages",
]

SERVICE_NAME = "brainjar.v1.ToolService"
PROTOCOL_VERSION = "1"
_PROOF_CONTEXT = b"brainjar.v1/describe"


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


def proof(token: str, *, instance: str, nonce: bytes) -> bytes:
    """What a service that knows ``token`` answers to ``nonce``; the token itself never travels."""
    message = b"\0".join([_PROOF_CONTEXT, instance.encode(), nonce])
    return hmac.new(token.encode(), message, hashlib.sha256).digest()


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries ``token``."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def stub(channel: Any) -> Any:
    """A ``ToolService`` client stub on ``channel`` (the generated class is untyped)."""
    return pb_grpc.ToolServiceStub(channel)  # type: ignore[no-untyped-call, unused-ignore]


def add_servicer(servicer: Any, server: Any) -> None:
    """Adds ``servicer`` to a gRPC server (the generated function is untyped)."""
    pb_grpc.add_ToolServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call, unused-ignore]
