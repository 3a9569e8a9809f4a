"""The typed events the loop emits; every endpoint renders them its own way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ._messages import Usage

__all__ = [
    "Answer",
    "Event",
    "StepStarted",
    "TextDelta",
    "ToolCallFailed",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolClash",
    "event_to_dict",
]

FailureKind = Literal[
    "error",  # the tool ran and failed, or raised
    "timeout",  # the tool did not finish within tool_timeout
    "bad_arguments",  # arguments did not match the tool's schema
    "malformed_arguments",  # the model's arguments were not a JSON object
    "unknown_tool",  # the model named a tool the jar does not have
    "too_large",  # the arguments or the result were over a size limit
    "cancelled",  # the conversation was cancelled while the tool ran
]

# A model failure or a cancellation raises instead of answering, so they have no reason here.
StopReason = Literal[
    "answer",  # the model answered
    "length",  # the model's answer was cut off at its token limit (max_tokens)
    "max_steps",  # the loop reached max_steps while the model still called tools
]


@dataclass(frozen=True, kw_only=True)
class StepStarted:
    """The loop asks the model again; ``step`` counts from 1."""

    type: ClassVar[str] = "step"
    step: int
    tools: int


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of the model's text, as it streams."""

    type: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True, kw_only=True)
class ToolCallStarted:
    """A tool call begins."""

    type: ClassVar[str] = "tool_call_started"
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class ToolCallFinished:
    """A tool call returned; ``content`` is what the model reads."""

    type: ClassVar[str] = "tool_call_finished"
    call_id: str
    name: str
    content: str
    seconds: float


@dataclass(frozen=True, kw_only=True)
class ToolCallFailed:
    """A tool call failed; ``error`` is what the model reads."""

    type: ClassVar[str] = "tool_call_failed"
    call_id: str
    name: str
    error: str
    kind: FailureKind
    seconds: float


@dataclass(frozen=True, kw_only=True)
class ToolClash:
    """A warning: two or more sources offer one tool name, and only one keeps it.

    Emitted once per clash in a conversation: when it starts, or at the step where
    the tool set changed so that the clash appeared.

    Attributes:
        name: the tool name.
        winner: the source whose tool the model is offered ("" when none is).
        losers: the sources whose tools of that name are left out.
        why: how the winner was chosen, and how to keep both.
    """

    type: ClassVar[str] = "tool_clash"
    name: str
    winner: str
    losers: tuple[str, ...]
    why: str

    def __str__(self) -> str:
        losers = ", ".join(self.losers)
        if self.winner:
            return (
                f"tool {self.name!r} of {losers} is left out: {self.winner} has one of that "
                f"name ({self.why})"
            )
        return f"tool {self.name!r} of {losers} is left out: {self.why}"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The conversation's end: the answer text and why the loop stopped.

    Attributes:
        text: what every step of the model said, steps separated by a blank line
            (with a response format: the formatted final answer alone); the text
            deltas of the conversation join to it.
        steps: how many times the model was asked.
        stop_reason: why the loop stopped.
        finish_reason: the model server's own reason for its last reply
            (``stop``, ``length``, ``tool_calls``...), where it gave one.
        usage: the tokens (and time) of all the conversation's model calls.
        transcript: the transcript file, if one was kept.
    """

    type: ClassVar[str] = "answer"
    text: str
    steps: int
    stop_reason: StopReason
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    transcript: str | None = None

    def __str__(self) -> str:
        return self.text


Event = (
    StepStarted
    | TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | ToolCallFailed
    | ToolClash
    | Answer
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as a JSON-ready dict with its ``type`` first."""
    return {"type": event.type, **dataclasses.asdict(event)}
