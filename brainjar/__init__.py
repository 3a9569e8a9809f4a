"""brainjar: run a language model like a container."""

from typing import TYPE_CHECKING, Any

from ._errors import (
    BrainjarError,
    DiscoveryError,
    ManifestError,
    ModelError,
    ProcessError,
    ToolError,
    TransportError,
)
from ._events import (
    Answer,
    Event,
    StepStarted,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
)
from ._messages import Message, ToolCall, ToolSpec
from ._tool import Tool, ToolResult
from .protocols import Endpoint, ModelClient, ToolSource

__all__ = [
    "Answer",
    "BrainjarError",
    "DiscoveryError",
    "Endpoint",
    "Event",
    "Jar",
    "ManifestError",
    "Message",
    "ModelClient",
    "ModelError",
    "ProcessError",
    "StepStarted",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolCallFailed",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolError",
    "ToolResult",
    "ToolSource",
    "ToolSpec",
    "TransportError",
    "load_manifest",
]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._jar import Jar
    from ._manifest_load import load_manifest

# Jar and load_manifest pull in pydantic, ruamel.yaml and the rest; importing them
# on first use keeps `brainjar --help` (which imports this package) fast.
_LAZY = {"Jar": "._jar", "load_manifest": "._manifest_load"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brainjar' has no attribute {name!r}")
