"""The manifest's tool entries: LangChain tools, MCP servers and discovered tool services."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from ._base import _by_key, _resolve, _Strict
from ._duration import Duration

__all__ = [
    "DiscoverConfig",
    "DiscoverTools",
    "DnsDiscoverConfig",
    "LangChainTools",
    "McpServerConfig",
    "McpTools",
    "ToolEntry",
]


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
