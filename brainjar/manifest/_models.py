"""The manifest, version 1: what a jar runs, which tools it has, where it is offered.

The models validate what ``_manifest_load`` read from YAML; they never read
files. Relative paths are resolved against the manifest's folder through the
validation context (``{"base_dir": Path}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._duration import Duration
from ._size import Size

__all__ = [
    "API_VERSION",
    "DiscoverConfig",
    "DiscoverTools",
    "EndpointEntry",
    "GrpcEndpoint",
    "HttpEndpointConfig",
    "JarManifest",
    "JarSpec",
    "LangChainTools",
    "LoopConfig",
    "McpEndpoint",
    "McpEndpointConfig",
    "McpServerConfig",
    "McpTools",
    "Metadata",
    "ModelConfig",
    "OllamaEndpoint",
    "OpenAIEndpoint",
    "ProcessConfig",
    "ReadyProbe",
    "ToolEntry",
]

API_VERSION = "brainjar.dev/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def _resolve(path: str | Path | None, info: ValidationInfo) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else (_base_dir(info) / p).resolve()


class Metadata(_Strict):
    """Who the jar is: a name, labels for selectors, annotations for schedulers."""

    name: str = Field(
        pattern=NAME_PATTERN, max_length=63, description="lower-case, e.g. file-clerk"
    )
    description: str | None = None
    version: str = "0.1.0"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class ReadyProbe(_Strict):
    """How brainjar knows the model process is ready."""

    http: str | None = Field(default=None, pattern=r"^/", description="path answered with 2xx")
    timeout: Duration = 120.0


class ProcessConfig(_Strict):
    """The process that serves the model; ``{port}`` is replaced by a free port."""

    command: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    cwd: Path | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    ready: ReadyProbe = ReadyProbe()
    restart: Literal["never", "on-failure", "always"] = "on-failure"
    max_restarts: int = Field(default=5, ge=0)
    stop_grace: Duration = 5.0

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)


class ModelConfig(_Strict):
    """The model: which backend speaks to it and, where needed, what serves it."""

    backend: Literal["llama-cpp", "ollama", "openai"]
    weights: str | None = Field(
        default=None, description="llama-cpp: packaged weights by name or a path to a .gguf"
    )
    name: str | None = Field(default=None, description="ollama / openai: the served model's name")
    endpoint: str | None = Field(default=None, pattern=r"^https?://")
    api_key: str | None = None
    process: ProcessConfig | None = None
    system: str | None = None
    parameters: dict[str, Any] = {}
    context_size: int = Field(default=2048, ge=256, description="llama-cpp: n_ctx")
    tool_calls: Literal["constrained", "native", "prompt"] = Field(
        default="constrained",
        description="llama-cpp: how the model calls tools. constrained: the tools are "
        "described in the system prompt and the reply is held to a JSON schema built from "
        "them; prompt: the same prompt without the schema; native: the server's "
        "chatml-function-calling handler",
    )
    timeout: Duration = 120.0

    @model_validator(mode="after")
    def _backend_needs(self) -> ModelConfig:
        if self.backend == "llama-cpp":
            if self.endpoint is not None or self.process is not None:
                raise ValueError(
                    "backend llama-cpp starts its own server: remove endpoint/process, "
                    "or use backend: openai with the server's endpoint"
                )
        elif self.name is None:
            raise ValueError(
                f"backend {self.backend} needs the served model's name, e.g. name: qwen2.5:0.5b"
            )
        if self.backend == "openai" and self.endpoint is None and self.process is None:
            raise ValueError(
                "backend openai needs an endpoint (e.g. endpoint: http://127.0.0.1:8000/v1) "
                "or a process that serves it"
            )
        return self

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value.endswith(".gguf"):
            return str(_resolve(value, info))
        return value


class _Filters(_Strict):
    include: list[str] | None = Field(default=None, description="only these tool names")
    exclude: list[str] = []
    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")


class LangChainTools(_Filters):
    """LangChain tools by import path: ``package.module:Name``."""

    langchain: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    with_: dict[str, Any] = Field(default={}, alias="with")

    @field_validator("with_")
    @classmethod
    def _paths(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # Strings written as relative paths (./x, ../x) mean "next to the manifest".
        return {
            k: str(_resolve(v, info)) if isinstance(v, str) and v.startswith(("./", "../")) else v
            for k, v in value.items()
        }


class McpServerConfig(_Strict):
    """An MCP server: a command to run (stdio) or a URL (streamable HTTP, or SSE)."""

    command: list[str] | None = Field(default=None, min_length=1)
    args: list[str] = []
    env: dict[str, str] = Field(
        default={},
        description="variables for a stdio server, on top of a safe few of brainjar's own "
        "(PATH, HOME, USER, LOGNAME, SHELL, TERM)",
    )
    env_passthrough: list[str] = Field(
        default=[],
        description="names of brainjar's environment variables to pass to a stdio server "
        "as well, e.g. [GITHUB_TOKEN]",
    )
    inherit_env: bool = Field(
        default=False,
        description="pass brainjar's whole environment to a stdio server, secrets included",
    )
    cwd: Path | None = None
    url: str | None = Field(default=None, pattern=r"^https?://")
    headers: dict[str, str] = {}
    transport: Literal["stdio", "http", "sse"] | None = None
    name: str | None = Field(default=None, description="for messages and `brainjar tools`")
    timeout: Duration = Field(default=30.0, description="limit on initialize and tools/list")

    @field_validator("cwd")
    @classmethod
    def _cwd(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)

    @model_validator(mode="after")
    def _one_target(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                "an MCP server needs either command (e.g. [mcp-server-time]) or url "
                "(e.g. http://127.0.0.1:8931/mcp), not both"
            )
        if self.command is not None and self.transport not in (None, "stdio"):
            raise ValueError(f"transport {self.transport} needs a url, not a command")
        if self.url is not None and self.transport == "stdio":
            raise ValueError("transport stdio needs a command, not a url")
        if self.url is not None and (self.env_passthrough or self.inherit_env):
            raise ValueError(
                "env_passthrough and inherit_env set a stdio server's environment; "
                "remove them from an entry with a url"
            )
        return self


class McpTools(_Filters):
    """The tools of an MCP server."""

    mcp: McpServerConfig


# ``_<port name>._tcp.<domain>``, for the gRPC ports (the registry checks it again).
_SRV_NAME = re.compile(r"_[A-Za-z0-9-]{1,63}\._tcp\.[A-Za-z0-9_.-]{1,240}")


class DnsDiscoverConfig(_Strict):
    """Tool services named by DNS SRV records, e.g. a Kubernetes headless Service's."""

    name: str | list[str] = Field(
        description="the SRV name of the services' gRPC ports, e.g. "
        "_grpc._tcp.tools.default.svc.cluster.local, or a list of them (one per "
        "Kubernetes Service); with transport mcp, "
        "_mcp._tcp.<domain> is read too. A TXT name=<instance> at a record's target "
        "is the name that service must give"
    )
    server: str | None = Field(
        default=None,
        description="ip or ip:port of the DNS server to ask; default: the system's resolver",
    )

    @field_validator("name")
    @classmethod
    def _srv_name(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("lists no names; give at least one SRV name")
        for name in names:
            if not _SRV_NAME.fullmatch(name.rstrip(".")) or name.startswith("_mcp."):
                raise ValueError(
                    f"{name!r} must be the SRV name of the services' gRPC ports, "
                    "_<port name>._tcp.<domain>, e.g. _grpc._tcp.tools.default.svc.cluster.local"
                )
        return value


class DiscoverConfig(_Strict):
    """Tool services found on the network (mDNS/DNS-SD, DNS SRV) or listed statically."""

    selector: dict[str, str] = Field(default={}, description="labels a service must have")
    transport: Literal["grpc", "mcp"] = "grpc"
    allow: list[str] = Field(default=[], description="instance names to trust; empty: any")
    token: str | None = Field(
        default=None,
        description="token services must prove they know; never sent "
        "(requests and answers are MAC'd with it)",
    )
    static: list[str] = Field(default=[], description="host:port of services to use as well")
    file: Path | None = Field(default=None, description="a file of host:port lines, re-read")
    interfaces: list[str] | None = Field(
        default=None,
        description="addresses or interface names to browse mDNS on, or [all]; "
        "default: loopback only (127.0.0.1)",
    )
    multicast: bool = Field(
        default=True, description="browse mDNS; default: true, false for an entry with dns"
    )
    ca: Path | None = Field(default=None, description="PEM certificates to trust for TLS services")
    dns: DnsDiscoverConfig | None = Field(
        default=None, description="find services by DNS SRV records, re-read on their TTL"
    )
    prefer: Literal["local", "discovered"] = Field(
        default="local",
        description="who keeps a tool name that a local source (langchain, mcp) offers too: "
        "local (also while it is down) or discovered",
    )

    @field_validator("file", "ca")
    @classmethod
    def _file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _resolve(value, info)


class DiscoverTools(_Filters):
    """The tools of discovered tool services."""

    discover: DiscoverConfig


def _by_key(members: dict[str, type[BaseModel]]) -> Callable[[Any], str | None]:
    """Tells the members of a union apart by the one key each has (``- mcp: {...}``)."""

    def kind(value: Any) -> str | None:
        if isinstance(value, dict):
            return next((key for key in members if key in value), None)
        return next((key for key, cls in members.items() if isinstance(value, cls)), None)

    return kind


ToolEntry = Annotated[
    Annotated[LangChainTools, Tag("langchain")]
    | Annotated[McpTools, Tag("mcp")]
    | Annotated[DiscoverTools, Tag("discover")],
    Discriminator(
        _by_key({"langchain": LangChainTools, "mcp": McpTools, "discover": DiscoverTools}),
        custom_error_type="tool_kind",
        custom_error_message="a tool entry needs one of the keys langchain, mcp or discover",
    ),
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


class LoopConfig(_Strict):
    """How the tool-calling loop runs."""

    max_steps: int = Field(default=8, ge=1, le=1000)
    tool_timeout: Duration = 30.0
    max_result: Size = Field(
        default=1024 * 1024,
        ge=1,
        description="bytes of a tool's result the model is shown; the rest is cut with a "
        "marker saying so, e.g. 512KiB or 1MiB",
    )
    parallel_tool_calls: bool = True
    tool_choice: str = Field(
        default="auto",
        description="auto, none, required, or a tool's name; applies until the first tool "
        "call, then auto (so a required tool cannot loop until max_steps)",
    )
    transcripts: Path | Literal[False] | None = Field(
        default=None, description="folder for JSONL transcripts; false: none; default: state dir"
    )

    @field_validator("transcripts")
    @classmethod
    def _dir(cls, value: Path | Literal[False] | None, info: ValidationInfo) -> Any:
        return value if value is False else _resolve(value, info)


class ObserveConfig(_Strict):
    """What the jar tells about itself (traces follow the OTEL_* environment variables)."""

    metrics: bool = Field(
        default=True, description="serve Prometheus metrics at /metrics on the HTTP endpoints"
    )


class JarSpec(_Strict):
    """What the jar runs."""

    model: ModelConfig
    tools: list[ToolEntry] = []
    endpoints: list[EndpointEntry] = []
    loop: LoopConfig = LoopConfig()
    observe: ObserveConfig = ObserveConfig()


class JarManifest(_Strict):
    """A brainjar manifest of kind Jar."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        title="brainjar Jar manifest",
    )

    api_version: Literal["brainjar.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["Jar"]
    metadata: Metadata
    spec: JarSpec
