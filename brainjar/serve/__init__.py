"""Serving: a jar's endpoints (OpenAI, Ollama, MCP, gRPC) and ``serve-tools`` for a ToolService.

Names are imported on first use: a jar that serves only the OpenAI API does not
load the MCP SDK (about a second of start-up and 40 MB) or gRPC.

May import: everything but ``cli`` and ``testing``.
"""

from typing import TYPE_CHECKING, Any

__all__ = [
    "GrpcEndpoint",
    "JarMcpEndpoint",
    "build_endpoint",
    "gateway_for_jar",
    "grpc_endpoint",
    "load_tool_service",
    "mcp_endpoint",
    "serve_endpoints",
    "serve_jar_mcp",
    "serve_tools",
]

if TYPE_CHECKING:
    from ._endpoints import build_endpoint, serve_endpoints
    from ._grpc import GrpcEndpoint, grpc_endpoint
    from ._mcp import JarMcpEndpoint, gateway_for_jar, mcp_endpoint, serve_jar_mcp
    from ._toolservice import load_tool_service, serve_tools

_LAZY = {
    "build_endpoint": "._endpoints",
    "serve_endpoints": "._endpoints",
    "GrpcEndpoint": "._grpc",
    "grpc_endpoint": "._grpc",
    "JarMcpEndpoint": "._mcp",
    "gateway_for_jar": "._mcp",
    "mcp_endpoint": "._mcp",
    "serve_jar_mcp": "._mcp",
    "load_tool_service": "._toolservice",
    "serve_tools": "._toolservice",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brainjar.serve' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
