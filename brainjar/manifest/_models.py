"""The manifest, version 1: what a jar runs, which tools it has, where it is offered.

A Jar manifest is its metadata (``_base``), its model (``_model``), its tools
(``_tools``), its endpoints (``_endpoints``), and the loop and observability
settings here; every part's name can be imported from this module too. The
models validate what ``_load`` read from YAML; they never read
files. Relative paths are resolved against the manifest's folder through the
validation context (``{"base_dir": Path}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from ._base import API_VERSION, Metadata, _resolve, _Strict
from ._duration import Duration
from ._endpoints import (
    EndpointEntry,
    GrpcEndpoint,
    HttpEndpointConfig,
    McpEndpoint,
    McpEndpointConfig,
    OllamaEndpoint,
    OpenAIEndpoint,
)
from ._model import ModelConfig, ProcessConfig, ReadyProbe
from ._size import Size
from ._tools import (
    DiscoverConfig,
    DiscoverTools,
    LangChainTools,
    McpServerConfig,
    McpTools,
    ToolEntry,
)

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
