"""brainjar: run a language model like a container.

The public API is ``__all__`` below; everything else lives in private modules.
Names are imported on first use, so ``brainjar --help`` stays fast.

The folders are the architecture. Each may import only the ones below it (the
test ``tests/test_layers.py`` enforces this; ``if TYPE_CHECKING:`` imports are
annotations only and do not count)::

    cli           the brainjar command
    k8s           Kubernetes objects rendered from manifests (render k8s)
    testing       the scripted model server and the in-process FunctionModel
    serve         a jar's endpoints, serve-tools
    lifecycle     background jars without a daemon: run -d, ps, logs, stop, rm
    jar           a manifest assembled into a running jar
    image         jar images: build, the local OCI store, push/pull, fits-before-start
    registry      discovery (mDNS/DNS-SD, static, file) and trust
    adapters      LangChain, MCP and gRPC tools, each way
    endpoints     the OpenAI- and Ollama-compatible HTTP APIs
    models        model clients (OpenAI, Ollama, llama.cpp)
    manifest      the manifest's schema and loading (pure data)
    http          one listening socket and uvicorn for every HTTP server
    observe       Prometheus metrics and OpenTelemetry traces of a jar and of serve-tools
    process       the reaper and the supervisor of child processes
    runtime       messages, events, the loop, transcripts
    tools         the Tool shape, policy wrappers, the tool set
    protocols, _errors
    _redact       secrets kept out of messages, logs, transcripts and HTTP bodies
    _worker       what a worker of ``run --workers N`` was told (standard library only)
    _net          which hosts mean this machine (standard library only)
"""

from typing import TYPE_CHECKING

import lazy_loader

from ._errors import (
    BrainjarError,
    DiscoveryError,
    ManifestError,
    ModelError,
    ProcessError,
    ToolError,
    TransportError,
)

__all__ = [
    "Answer",
    "BrainjarError",
    "DiscoveryError",
    "Endpoint",
    "Event",
    "Jar",
    "JarManifest",
    "ManifestError",
    "Message",
    "ModelClient",
    "ModelError",
    "ProcessError",
    "StaticSource",
    "StepStarted",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallFailed",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolClash",
    "ToolError",
    "ToolResult",
    "ToolServiceManifest",
    "ToolSource",
    "ToolSpec",
    "TransportError",
    "load_manifest",
    "tool",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .jar import Jar
    from .manifest import JarManifest, ToolServiceManifest, load_manifest
    from .protocols import Endpoint, ModelClient, ToolSource
    from .runtime import (
        Answer,
        Event,
        Message,
        StepStarted,
        TextDelta,
        ToolCall,
        ToolCallFailed,
        ToolCallFinished,
        ToolCallStarted,
        ToolClash,
    )
    from .tools import StaticSource, Tool, ToolResult, ToolSpec, tool

# The names above, each imported from its module on first use (PEP 562).
__getattr__, _lazy_dir, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "runtime": [
            "Answer",
            "Event",
            "Message",
            "StepStarted",
            "TextDelta",
            "ToolCall",
            "ToolCallFailed",
            "ToolCallFinished",
            "ToolCallStarted",
            "ToolClash",
        ],
        "protocols": ["Endpoint", "ModelClient", "ToolSource"],
        "jar": ["Jar"],
        "manifest": ["JarManifest", "ToolServiceManifest", "load_manifest"],
        "tools": ["StaticSource", "Tool", "ToolResult", "ToolSpec", "tool"],
    },
)


def __dir__() -> list[str]:
    return sorted({*globals(), *_lazy_dir()})
