"""brainjar: run a language model like a container."""

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
]

__version__ = "0.1.0"
