"""The ToolService manifest: tools served to other jars over gRPC (and MCP), announced by mDNS.

```yaml
apiVersion: brainjar.dev/v1
kind: ToolService
metadata: {name: clock, labels: {team: docs}}
spec:
  tools:
    - langchain: my_tools:clock
  grpc: {port: 0}
  mcp: {port: 0}                # optional: the same tools over MCP streamable HTTP
  token: ${TOOLS_TOKEN}         # optional: callers send "authorization: Bearer ..."
  tls: {cert: ./cert.pem, key: ./key.pem}
  limits: {max_argument_bytes: 65536, max_result_bytes: 1048576, call_timeout: 30s,
           max_concurrent_calls: 8}
  announce: {enabled: true, interfaces: [127.0.0.1]}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from ._base import Metadata, _resolve, _Strict
from ._duration import Duration
from ._tools import DiscoverTools, ToolEntry

__all__ = [
    "AnnounceConfig",
    "LimitsConfig",
    "ServeGrpc",
    "ServeMcp",
    "TlsConfig",
    "ToolServiceManifest",
    "ToolServiceSpec",
]


class ServeGrpc(_Strict):
    """Where ``brainjar.v1.ToolService`` listens."""

    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")


class ServeMcp(_Strict):
    """Where the same tools are offered over MCP streamable HTTP."""

    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    path: str = Field(default="/mcp", pattern=r"^/")


class TlsConfig(_Strict):
    """A PEM certificate (chain) and its key; gRPC then speaks TLS."""

    cert: Path
    key: Path

    @field_validator("cert", "key")
    @classmethod
    def _path(cls, value: Path, info: ValidationInfo) -> Path:
        path = _resolve(value, info)
        assert path is not None
        if not path.is_file():
            raise ValueError(f"no such file {path}; give a PEM file, e.g. ./tls/cert.pem")
        return path


class LimitsConfig(_Strict):
    """What one call may take; a call over a limit fails with a clear error."""

    max_argument_bytes: int = Field(default=64 * 1024, ge=1)
    max_result_bytes: int = Field(default=1024 * 1024, ge=1)
    call_timeout: Duration = 30.0
    max_concurrent_calls: int = Field(default=8, ge=1, description="per client connection")


class AnnounceConfig(_Strict):
    """Whether and where the service announces itself (mDNS/DNS-SD)."""

    enabled: bool = True
    interfaces: list[str] | None = Field(
        default=None,
        description="addresses or interface names, or [all]; default: loopback only "
        "(127.0.0.1), so nothing leaves the machine unless asked",
    )


class ToolServiceSpec(_Strict):
    """What the service offers and how."""

    tools: list[ToolEntry] = Field(min_length=1)
    host: str = Field(default="127.0.0.1", description="listen address; 0.0.0.0 for a LAN")
    grpc: ServeGrpc = ServeGrpc()
    mcp: ServeMcp | None = None
    token: str | None = Field(default=None, description="bearer token callers must send")
    tls: TlsConfig | None = None
    limits: LimitsConfig = LimitsConfig()
    announce: AnnounceConfig = AnnounceConfig()
    stop_grace: Duration = Field(default=5.0, description="time calls in flight get to finish")

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        # ${TOKEN:-} gives an empty string: that means "no token", not "the empty token".
        return value or None

    @field_validator("tools")
    @classmethod
    def _no_discover(cls, value: list[ToolEntry]) -> list[ToolEntry]:
        if any(isinstance(entry, DiscoverTools) for entry in value):
            raise ValueError(
                "a ToolService cannot serve discovered tools (it would find itself); "
                "list langchain or mcp tools"
            )
        return value


class ToolServiceManifest(_Strict):
    """A brainjar manifest of kind ToolService."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        title="brainjar ToolService manifest",
    )

    api_version: Literal["brainjar.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["ToolService"]
    metadata: Metadata
    spec: ToolServiceSpec
