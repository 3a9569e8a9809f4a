"""The manifest: its schema (pydantic models), loading with file:line:col errors, JSON Schema.

Pure data: a manifest says what to run; ``brainjar.jar`` and ``brainjar.serve``
make it run.

May import: ``brainjar._errors``.
"""

from ._base import API_VERSION, Metadata
from ._duration import Duration, parse_duration
from ._endpoints import (
    EndpointEntry,
    GrpcEndpoint,
    GrpcEndpointConfig,
    HttpEndpointConfig,
    McpEndpoint,
    McpEndpointConfig,
    OllamaEndpoint,
    OpenAIEndpoint,
)
from ._load import (
    KINDS,
    Origin,
    interpolate,
    load_manifest,
    load_yaml,
    read_manifest,
    validate_document,
)
from ._model import ModelConfig, ProcessConfig, ReadyProbe
from ._models import JarManifest, JarSpec, LoopConfig
from ._schema import schema, schema_json
from ._size import Size, parse_size
from ._tools import (
    DiscoverConfig,
    DiscoverTools,
    LangChainTools,
    McpServerConfig,
    McpTools,
    ToolEntry,
)
from ._toolservice import (
    AnnounceConfig,
    LimitsConfig,
    ServeGrpc,
    ServeMcp,
    TlsConfig,
    ToolServiceManifest,
    ToolServiceSpec,
)

__all__ = [
    "API_VERSION",
    "KINDS",
    "AnnounceConfig",
    "DiscoverConfig",
    "DiscoverTools",
    "Duration",
    "EndpointEntry",
    "GrpcEndpoint",
    "GrpcEndpointConfig",
    "HttpEndpointConfig",
    "JarManifest",
    "JarSpec",
    "LangChainTools",
    "LimitsConfig",
    "LoopConfig",
    "McpEndpoint",
    "McpEndpointConfig",
    "McpServerConfig",
    "McpTools",
    "Metadata",
    "ModelConfig",
    "OllamaEndpoint",
    "OpenAIEndpoint",
    "Origin",
    "ProcessConfig",
    "ReadyProbe",
    "ServeGrpc",
    "ServeMcp",
    "Size",
    "TlsConfig",
    "ToolEntry",
    "ToolServiceManifest",
    "ToolServiceSpec",
    "interpolate",
    "load_manifest",
    "load_yaml",
    "parse_duration",
    "parse_size",
    "read_manifest",
    "schema",
    "schema_json",
    "validate_document",
]
