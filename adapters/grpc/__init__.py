"""gRPC: the ``brainjar.v1.ToolService`` client and server.

- ``GrpcToolSource``: a remote service's tools as a ``ToolSource``.
- ``ToolServer`` + ``serve_grpc``: any live list of tools as a service, with
  ``grpc.health.v1``, a shared token proven and used through per-request MACs
  (never sent by brainjar), TLS and per-call limits.
"""

from ._client import Channel, Description, GrpcToolSource, describe, health_check
from ._server import Limits, TlsFiles, ToolServer
from ._serving import serve_grpc
from ._wire import PROTOCOL_VERSION, SERVICE_NAME, digest

__all__ = [
    "PROTOCOL_VERSION",
    "SERVICE_NAME",
    "Channel",
    "Description",
    "GrpcToolSource",
    "Limits",
    "TlsFiles",
    "ToolServer",
    "describe",
    "digest",
    "health_check",
    "serve_grpc",
]
