"""The steps of a script and the scripted model that replays them.

A script is a list of steps, one per assistant turn of a conversation. The step
for a request is chosen by how many assistant messages the request already
holds, so every conversation walks the script on its own and any number of
conversations may run at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CallTools",
    "Fail",
    "Reply",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedRequest",
    "Step",
    "call",
    "calls",
    "fail",
    "reply",
]

WireProtocol = Literal["openai", "ollama"]


@dataclass(frozen=True, kw_only=True)
class Reply:
    """An assistant text answer.

    Attributes:
        text: the answer.
        delay: seconds to wait before answering.
        chunks: how many deltas a streamed answer is split into; ``None``: one per word.
        pace: seconds between two streamed deltas, as a model that generates token by
            token sends them; 0: all at once (a client may then read them together).
        finish_reason: ``stop``, or ``length`` for an answer cut off at max_tokens
            (Ollama's ``done_reason``).
        usage: (prompt, completion) tokens reported; ``None``: word counts.
    """

    text: str
    delay: float = 0.0
    chunks: int | None = None
    pace: float = 0.0
    finish_reason: Literal["stop", "length"] = "stop"
    usage: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True)
class ScriptedCall:
    """One tool call of a ``CallTools`` step.

    Attributes:
        name: the tool's name.
        arguments: a dict is sent as JSON; a str is sent verbatim (it may be
            malformed on purpose). Over Ollama, whose arguments are objects, a str
            that holds a JSON object is sent as that object and any other str is
            sent as a JSON string (the real ``ollama`` SDK rejects that: use the
            OpenAI protocol to test malformed arguments).
        id: the call's id; ``None``: ``call_<step>_<index>``; ``""``: sent without
            an id (to test clients that must make their own). Ollama has no ids.
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_text(self) -> str:
        """The arguments as the OpenAI protocol sends them: JSON text."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    def arguments_value(self) -> Any:
        """The arguments as the Ollama protocol sends them: an object where possible."""
        if not isinstance(self.arguments, str):
            return self.arguments
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return self.arguments
        return value if isinstance(value, dict) else self.arguments


@dataclass(frozen=True, kw_only=True)
class CallTools:
    """An assistant turn that calls one tool or several (parallel calls).

    Attributes:
        calls: the calls, in order.
        text: text sent along with the calls (most models send none).
        delay: seconds to wait before answering.
        usage: (prompt, completion) tokens reported; ``None``: word counts.
    """

    calls: tuple[ScriptedCall, ...]
    text: str = ""
    delay: float = 0.0
    usage: tuple[int, int] | None = None


@dataclass(frozen=True, kw_only=True)
class Fail:
    """An HTTP error response in the protocol's error layout.

    Attributes:
        status: the HTTP status.
        message: the error's message.
        delay: seconds to wait before answering.
    """

    status: int = 500
    message: str = "scripted failure"
    delay: float = 0.0


Step = Reply | CallTools | Fail


def reply(
    text: str,
    *,
    delay: float = 0.0,
    chunks: int | None = None,
    pace: float = 0.0,
    finish_reason: Literal["stop", "length"] = "stop",
    usage: tuple[int, int] | None = None,
) -> Reply:
    """A text answer, streamed in ``chunks`` deltas (default: one per word).

    ``pace`` puts that many seconds between two deltas; ``finish_reason="length"``
    reports it cut off at max_tokens; ``usage`` sets the (prompt, completion) tokens
    reported instead of word counts.
    """
    return Reply(
        text=text,
        delay=delay,
        chunks=chunks,
        pace=pace,
        finish_reason=finish_reason,
        usage=usage,
    )


def call(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    id: str | None = None,
    delay: float = 0.0,
) -> CallTools:
    """A turn with one tool call; a str ``arguments`` is sent verbatim."""
    args: dict[str, Any] | str = {} if arguments is None else arguments
    return CallTools(calls=(ScriptedCall(name=name, arguments=args, id=id),), delay=delay)


def calls(
    *steps: CallTools | ScriptedCall,
    text: str = "",
    delay: float = 0.0,
    usage: tuple[int, int] | None = None,
) -> CallTools:
    """A turn with several tool calls: ``calls(call("a", {...}), call("b", {...}))``."""
    found: list[ScriptedCall] = []
    for step in steps:
        found.extend(step.calls if isinstance(step, CallTools) else (step,))
    if not found:
        raise ValueError("calls() needs at least one call")
    return CallTools(calls=tuple(found), text=text, delay=delay, usage=usage)


def fail(status: int = 500, message: str = "scripted failure", *, delay: float = 0.0) -> Fail:
    """An HTTP error response with ``status`` and ``message``."""
    return Fail(status=status, message=message, delay=delay)


@dataclass(frozen=True, kw_only=True)
class ScriptedRequest:
    """A chat request the scripted server received.

    Attributes:
        protocol: ``openai`` or ``ollama``.
        path: the request's path, e.g. ``/v1/chat/completions``.
        body: the request's JSON body, as received.
        step: the conversation's step index: assistant messages in ``messages``.
    """

    protocol: WireProtocol
    path: str
    body: dict[str, Any]
    step: int

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's messages, as received."""
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tools offered, as received."""
        tools = self.body.get("tools")
        return tools if isinstance(tools, list) else []

    @property
    def model(self) -> str:
        """The model the request named."""
        return str(self.body.get("model") or "")

    @property
    def stream(self) -> bool:
        """Whether a streamed answer was asked for (Ollama streams unless told not to)."""
        return bool(self.body.get("stream", self.protocol == "ollama"))


class ScriptExhausted(Exception):
    """A conversation asked for a step past the end of a script without ``repeat``."""


ScriptFunction = Callable[[ScriptedRequest], Step]


class ScriptedModel:
    """A script: the step each request of each conversation gets.

    Args:
        script: the steps, one per assistant turn; or a function from the request
            to its step.
        repeat: past the end of the script, start again from its first step
            (otherwise such a request gets HTTP 500).
    """

    def __init__(self, script: Sequence[Step] | ScriptFunction, *, repeat: bool = False) -> None:
        if callable(script):
            self._function: ScriptFunction | None = script
            self.steps: tuple[Step, ...] = ()
        else:
            self._function = None
            self.steps = tuple(script)
            if not self.steps:
                raise ValueError("a script needs at least one step")
            for step in self.steps:
                if not isinstance(step, Reply | CallTools | Fail):
                    raise TypeError(f"not a script step: {step!r}; use reply(), call(), fail()")
        self.repeat = repeat

    def step_for(self, request: ScriptedRequest) -> Step:
        """The step that answers ``request``.

        Raises:
            ScriptExhausted: the conversation is past the script's end.
        """
        if self._function is not None:
            step = self._function(request)
            if not isinstance(step, Reply | CallTools | Fail):
                raise TypeError(f"the script function returned {step!r}, not a step")
            return step
        k = request.step
        if k >= len(self.steps):
            if not self.repeat:
                raise ScriptExhausted(
                    f"scripted model: script has {len(self.steps)} steps, "
                    f"conversation asked for step {k + 1}"
                )
            k %= len(self.steps)
        return self.steps[k]


def count_assistant_messages(messages: Sequence[Any]) -> int:
    """How many assistant turns a request's messages already hold."""
    return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
