"""The runtime of one conversation: messages, events, the tool-calling loop, transcripts.

May import: ``brainjar._errors``, ``brainjar.protocols``, ``brainjar.tools``.
It knows nothing of manifests, processes, HTTP or where a tool lives.
"""

from ._events import (
    Answer,
    Event,
    StepStarted,
    TextDelta,
    ToolCallFailed,
    ToolCallFinished,
    ToolCallStarted,
    ToolClash,
    event_to_dict,
)
from ._loop import LoopSettings, run_conversation
from ._messages import Message, ModelResponse, ModelTextDelta, Role, ToolCall, Usage
from ._transcript import Transcript, default_transcript_dir

__all__ = [
    "Answer",
    "Event",
    "LoopSettings",
    "Message",
    "ModelResponse",
    "ModelTextDelta",
    "Role",
    "StepStarted",
    "TextDelta",
    "ToolCall",
    "ToolCallFailed",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolClash",
    "Transcript",
    "Usage",
    "default_transcript_dir",
    "event_to_dict",
    "run_conversation",
]
