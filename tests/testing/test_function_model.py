"""FunctionModel: the scripted model in process, as a ModelClient the loop and a Jar use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from brainjar import Message, ModelClient, ModelError, ToolSpec
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest
from brainjar.runtime._messages import ModelResponse, ModelTextDelta
from brainjar.testing import (
    FunctionModel,
    FunctionRequest,
    Step,
    call,
    calls,
    fail,
    reply,
)
from brainjar.tools import StaticSource, tool

USER = [Message(role="user", content="what is 1 + 2?")]
ADD_SPEC = ToolSpec(name="add", description="adds", parameters={"type": "object"})


async def turn(
    model: FunctionModel,
    messages: Sequence[Message] = USER,
    *,
    tools: Sequence[ToolSpec] = (),
    parameters: dict[str, Any] | None = None,
) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    responses: list[ModelResponse] = []
    async for chunk in model.stream(messages, tools=tools, parameters=parameters or {}):
        if isinstance(chunk, ModelTextDelta):
            assert not responses, "a text delta came after the response"
            deltas.append(chunk.text)
        else:
            responses.append(chunk)
    (response,) = responses
    return deltas, response


def test_it_is_a_model_client() -> None:
    assert isinstance(FunctionModel(["hi"]), ModelClient)


async def test_a_reply_streams_in_deltas_then_one_response() -> None:
    deltas, response = await turn(FunctionModel([reply("The answer is 3.", chunks=4)]))
    assert len(deltas) == 4 and "".join(deltas) == "The answer is 3."
    assert response.message == Message(role="assistant", content="The answer is 3.")
    assert response.finish_reason == "stop" and response.usage.completion_tokens == 4


async def test_a_plain_string_is_a_reply_one_delta_per_word() -> None:
    deltas, response = await turn(FunctionModel(["one two three"]))
    assert deltas == ["one ", "two ", "three"]
    assert response.message.content == "one two three"


async def test_calls_become_tool_calls_with_ids() -> None:
    step = calls(call("add", {"a": 1, "b": 2}), call("mul", '{"a": 3', id="given"))
    deltas, response = await turn(FunctionModel([step]))
    assert deltas == [] and response.finish_reason == "tool_calls"
    first, second = response.message.tool_calls
    assert (first.id, first.name, first.parsed_arguments()) == ("call_0_0", "add", {"a": 1, "b": 2})
    # Malformed arguments reach the loop as text, as a real client passes them on.
    assert (second.id, second.name, second.arguments) == ("given", "mul", '{"a": 3')


async def test_fail_raises_model_error() -> None:
    with pytest.raises(ModelError, match="503: overloaded"):
        await turn(FunctionModel([fail(503, "overloaded")]))


async def test_a_list_is_walked_by_assistant_turns_and_records_requests() -> None:
    model = FunctionModel([call("add", {"a": 1, "b": 2}), "3"])
    later = [*USER, Message(role="assistant", content="x"), Message(role="user", content="go")]
    _, first = await turn(model, tools=[ADD_SPEC], parameters={"temperature": 0})
    _, second = await turn(model, later)
    assert first.message.tool_calls and second.message.content == "3"
    assert [r.step for r in model.requests] == [0, 1]
    assert model.requests[0].tool_names == ["add"]
    assert model.requests[0].parameters == {"temperature": 0}
    assert model.requests[1].messages == tuple(later)


async def test_past_the_end_is_a_model_error_unless_it_repeats() -> None:
    later = [*USER, Message(role="assistant", content="x")]
    with pytest.raises(ModelError, match=r"has 1 steps.*repeat=True"):
        await turn(FunctionModel(["only"]), later)
    _, response = await turn(FunctionModel(["again"], repeat=True), later)
    assert response.message.content == "again"


async def test_a_function_picks_each_step_sync_or_async() -> None:
    seen: list[tuple[int, int]] = []

    def pick(messages: list[Message], request: FunctionRequest) -> Step | str:
        seen.append((len(messages), request.step))
        return call("add", {"a": 1}) if request.step == 0 else f"{len(messages)} messages"

    async def apick(messages: list[Message], request: FunctionRequest) -> Step | str:
        return reply(request.parameters["say"])

    model = FunctionModel(pick)
    _, first = await turn(model)
    _, second = await turn(model, [*USER, first.message])
    assert first.message.tool_calls[0].name == "add" and second.message.content == "2 messages"
    assert seen == [(1, 0), (2, 1)]
    _, third = await turn(FunctionModel(apick), parameters={"say": "hello"})
    assert third.message.content == "hello"


async def test_a_failing_or_wrong_function_is_a_model_error() -> None:
    def broken(messages: list[Message], request: FunctionRequest) -> str:
        raise RuntimeError("bug in the test")

    def wrong(messages: list[Message], request: FunctionRequest) -> Any:
        return 42

    with pytest.raises(ModelError, match="bug in the test"):
        await turn(FunctionModel(broken))
    with pytest.raises(ModelError, match="gave 42, not a step"):
        await turn(FunctionModel(wrong))


def test_a_bad_script_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        FunctionModel([])
    with pytest.raises(TypeError, match="not a step"):
        FunctionModel([42])  # type: ignore[list-item]


async def test_a_jar_runs_on_it(tmp_path: Any) -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Adds two numbers."""
        return a + b

    # The endpoint is never reached: the jar's client is the FunctionModel.
    manifest = JarManifest.model_validate(
        {
            "apiVersion": "brainjar.dev/v1",
            "kind": "Jar",
            "metadata": {"name": "fn"},
            "spec": {
                "model": {
                    "backend": "openai",
                    "endpoint": "http://127.0.0.1:9/v1",
                    "name": "none",
                    "system": "be brief",
                },
                "loop": {"transcripts": False},
            },
        }
    )
    model = FunctionModel([call("add", {"a": 1, "b": 2}), "It is 3."])
    async with Jar(manifest, client=model, extra_sources=[StaticSource([add])]) as jar:
        answer = await jar.ask("1+2?")
    assert answer.text == "It is 3." and answer.steps == 2
    assert model.requests[0].messages[0] == Message(role="system", content="be brief")
    assert model.requests[0].tool_names == ["add"]
    assert model.requests[1].tool_messages == ["3"]
