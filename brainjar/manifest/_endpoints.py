"""The manifest's endpoints: OpenAI, Ollama, MCP and gRPC."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag

from ._base import _by_key, _Strict
from ._duration import Duration

__all__ = [
    "EndpointEntry",
    "GrpcEndpoint",
    "GrpcEndpointConfig",
    "HttpEndpointConfig",
    "McpEndpoint",
    "McpEndpointConfig",
    "OllamaEndpoint",
    "OpenAIEndpoint",
]


class HttpEndpointConfig(_Strict):
    """An HTTP endpoint: where it listens and how much it takes at once."""

    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535, description="0 picks a free port")
    token: str | None = Field(default=None, description="bearer token clients must send")
    max_concurrency: int = Field(default=8, ge=1)
    max_queue: int = Field(default=64, ge=0)
    request_timeout: Duration = 300.0
    # brainjar.endpoints.MAX_MESSAGES; this layer may not import it.
    max_messages: int = Field(
        default=1024, ge=1, description="the most messages one request may carry; more: 400"
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description=(
            "web origins whose pages may call this endpoint from a browser, besides "
            "loopback ones, e.g. [https://chat.example.com]; '*' allows any"
        ),
    )


class OpenAIEndpoint(_Strict):
    """The jar as an OpenAI-compatible model (Chat Completions)."""

    openai: HttpEndpointConfig


class OllamaEndpoint(_Strict):
    """The jar as an Ollama-compatible model (``/api/chat``)."""

    ollama: HttpEndpointConfig


class McpEndpointConfig(_Strict):
    """The jar as an MCP server."""

    transport: Literal["http", "stdio"] = "http"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    path: str = Field(default="/mcp", pattern=r"^/")
    token: str | None = None


class McpEndpoint(_Strict):
    """The jar and its tools as an MCP server."""

    mcp: McpEndpointConfig


class GrpcEndpointConfig(_Strict):
    """The jar's tools over gRPC ``brainjar.v1.ToolService``."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    token: str | None = None


class GrpcEndpoint(_Strict):
    """The jar's tools over gRPC."""

    grpc: GrpcEndpointConfig


EndpointEntry = Annotated[
    Annotated[OpenAIEndpoint, Tag("openai")]
    | Annotated[OllamaEndpoint, Tag("ollama")]
    | Annotated[McpEndpoint, Tag("mcp")]
    | Annotated[GrpcEndpoint, Tag("grpc")],
    Discriminator(
        _by_key(
            {
                "openai": OpenAIEndpoint,
                "ollama": OllamaEndpoint,
                "mcp": McpEndpoint,
                "grpc": GrpcEndpoint,
            }
        ),
        custom_error_type="endpoint_kind",
        custom_error_message="an endpoint needs one of the keys openai, ollama, mcp or grpc",
    ),
]
