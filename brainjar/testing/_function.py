"""An in-process model: a ``ModelClient`` that answers from a function or a script.

The HTTP-free twin of ``ScriptedModelServer``, after pydantic-ai's
``FunctionModel``: the loop's logic is tested without a socket, and the scripted
server is kept for what only the wire shows (the OpenAI and Ollama layouts).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from brainjar._errors import ModelError
from brainjar.runtime._messages import Message, ModelResponse, ModelTextDelta, ToolCall, Usage
from brainjar.tools._tool import ToolSpec

from ._script import CallTools, Fail, Reply, Step
from ._wire import split_text

__all__ = ["FunctionModel", "FunctionRequest", "ModelFunction"]


@dataclass(frozen=True, kw_only=True)
class FunctionRequest:
    """One turn a ``FunctionModel`` was asked for: what the loop sent.

    Attributes:
        messages: the conversation so far, as sent (a copy: the loop goes on appending).
        tools: the tools offered.
        parameters: the model parameters of this step (``tool_choice`` among them).
        step: the conversation's step index: assistant messages in ``messages``.
    """

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    step: int = 0

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered, in order."""
        return [t.name for t in self.tools]

    @property
    def tool_messages(self) -> list[str]:
        """What the model was told about its tool calls so far."""
        return [m.content for m in self.messages if m.role == "tool"]


StepLike = Step | str
ModelFunction = Callable[[list[Message], FunctionRequest], StepLike | Awaitable[StepLike]]
"""``(messages, request) -> step``: a step (``reply``, ``call``, ``calls``, ``fail``) or text."""


class FunctionModel:
    """A model in the test's own process, answering from a function or a list of steps.

    ``Jar(manifest, client=FunctionModel([call("add", {"a": 1, "b": 2}), "3"]))``
    runs the loop with no model server at all. A list is walked per conversation
    as ``ScriptedModelServer`` walks it (a request's step is the number of
    assistant messages it holds); a function gets ``(messages, request)`` and
    returns the step (it may be async). A plain string is ``reply(string)``.

    A ``reply`` streams as ``ModelTextDelta`` chunks (split as the server splits
    them), then one ``ModelResponse``; a ``call``/``calls`` step's calls are in
    that response; ``fail(...)`` raises ``ModelError``, as a model client does for
    an HTTP error. A step's ``delay`` is waited before answering.

    Args:
        script: the steps, one per assistant turn; or a function that picks one.
        repeat: past the end of the list, start again from its first step
            (otherwise such a turn raises ``ModelError``).
        name: the model's name, for messages.

    Attributes:
        requests: every turn asked for, in order.
    """

    def __init__(
        self,
        script: Sequence[StepLike] | ModelFunction,
        *,
        repeat: bool = False,
        name: str = "function-model",
    ) -> None:
        self.name = name
        self.repeat = repeat
        self.requests: list[FunctionRequest] = []
        if callable(script):
            self._function: ModelFunction | None = script
            self.steps: tuple[Step, ...] = ()
        else:
            self._function = None
            self.steps = tuple(_as_step(s, where="the script") for s in script)
            if not self.steps:
                raise ValueError("a FunctionModel script needs at least one step")

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec],
        parameters: Mapping[str, Any],
    ) -> AsyncGenerator[ModelTextDelta | ModelResponse, None]:
        """Answers one turn: text deltas, then one ``ModelResponse``.

        Raises:
            ModelError: the step is ``fail(...)``, the script is exhausted, or the
                function raised or returned something that is not a step.
        """
        request = FunctionRequest(
            messages=tuple(messages),
            tools=tuple(tools),
            parameters=dict(parameters),
            step=sum(1 for m in messages if m.role == "assistant"),
        )
        self.requests.append(request)
        step = await self._step_for(request)
        if step.delay > 0:
            await anyio.sleep(step.delay)  # the script asks for a slow model
        if isinstance(step, Fail):
            raise ModelError(f"{self.name}: scripted failure {step.status}: {step.message}")
        for piece in split_text(step.text, step.chunks if isinstance(step, Reply) else None):
            yield ModelTextDelta(text=piece)
        yield _response(step, request)

    async def aclose(self) -> None:
        """Nothing to release: there is no connection."""

    async def _step_for(self, request: FunctionRequest) -> Step:
        if self._function is not None:
            try:
                got = self._function(list(request.messages), request)
                if inspect.isawaitable(got):
                    got = await got
            except ModelError:
                raise
            except Exception as exc:
                raise ModelError(f"{self.name}: the model function raised {exc!r}") from exc
            try:
                return _as_step(got, where="the model function")
            except TypeError as exc:
                raise ModelError(f"{self.name}: {exc}") from None
        k = request.step
        if k >= len(self.steps):
            if not self.repeat:
                raise ModelError(
                    f"{self.name}: the script has {len(self.steps)} steps and the "
                    f"conversation asked for step {k + 1}; add steps or pass repeat=True"
                )
            k %= len(self.steps)
        return self.steps[k]


def _as_step(value: object, *, where: str) -> Step:
    if isinstance(value, str):
        return Reply(text=value)
    if isinstance(value, Reply | CallTools | Fail):
        return value
    raise TypeError(f"{where} gave {value!r}, not a step: use reply(), call(), calls(), fail()")


def _response(step: Reply | CallTools, request: FunctionRequest) -> ModelResponse:
    tool_calls: tuple[ToolCall, ...] = ()
    if isinstance(step, CallTools):
        tool_calls = tuple(
            ToolCall(
                id=c.id or f"call_{request.step}_{i}",
                name=c.name,
                arguments=c.arguments_text(),
            )
            for i, c in enumerate(step.calls)
        )
    prompt = sum(len(m.content.split()) for m in request.messages)
    completion = len(step.text.split()) + sum(1 + len(c.arguments.split()) for c in tool_calls)
    if step.usage is not None:
        prompt, completion = step.usage
    return ModelResponse(
        message=Message(role="assistant", content=step.text, tool_calls=tool_calls),
        finish_reason="tool_calls" if isinstance(step, CallTools) else step.finish_reason,
        usage=Usage(prompt_tokens=prompt, completion_tokens=max(completion, 1)),
    )
