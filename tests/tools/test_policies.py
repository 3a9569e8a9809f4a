"""Each call policy on its own, then ``apply_policy`` composing them in its documented order."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from brainjar._errors import BadArguments, ToolError, ToolTimeout, ToolTooLarge
from brainjar.tools import (
    Tool,
    ToolPolicy,
    ToolResult,
    apply_policy,
    approved,
    argument_limited,
    guarded,
    result_limited,
    time_limited,
    validated,
)

# How long a test waits for a call it started to get going.
LIMIT = 10.0
SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "text": {"type": "string"}},
    "required": ["a"],
}


class Recorder:
    """A tool's inside: records each call's arguments and answers ``answer``."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = ToolResult(content="ok") if answer is None else answer
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, arguments: dict[str, Any]) -> Any:
        self.calls.append(arguments)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def make(call: Any, *, name: str = "t") -> Tool:
    return Tool(name=name, description="a tool", parameters=SCHEMA, call=call, source="test")


# --- validated -------------------------------------------------------------------------


async def test_validated_refuses_arguments_off_the_schema() -> None:
    inner = Recorder()
    checked = validated(make(inner))
    with pytest.raises(BadArguments, match="bad arguments for t: a: 'x' is not of type"):
        await checked.call({"a": "x"})
    with pytest.raises(BadArguments, match="'a' is a required property"):
        await checked.call({})
    assert inner.calls == []
    assert (await checked.call({"a": 1})).content == "ok"
    assert inner.calls == [{"a": 1}]


async def test_validated_leaves_a_broken_schema_to_the_tool() -> None:
    inner = Recorder()
    broken = Tool(
        name="t", description="", parameters={"type": "nonsense"}, call=inner, source="test"
    )
    await validated(broken).call({"anything": 1})
    assert inner.calls == [{"anything": 1}]


# --- time_limited ------------------------------------------------------------------------


async def test_time_limited_cancels_the_call_and_raises_tool_timeout() -> None:
    started, cancelled = anyio.Event(), anyio.Event()

    async def hangs(arguments: dict[str, Any]) -> ToolResult:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError

    with pytest.raises(ToolTimeout, match=r"t did not finish within 0\.05s") as caught:
        await time_limited(make(hangs), 0.05).call({"a": 1})
    assert started.is_set() and cancelled.is_set()
    assert caught.value.limit == "timeout" and caught.value.kind == "timeout"


async def test_time_limited_passes_a_quick_result() -> None:
    result = await time_limited(make(Recorder(ToolResult(content="fast"))), LIMIT).call({"a": 1})
    assert result.content == "fast"


# --- result_limited ----------------------------------------------------------------------


async def test_result_limited_cuts_a_long_result_with_a_marker() -> None:
    long = ToolResult(content="x" * 100, data={"big": True})
    result = await result_limited(make(Recorder(long)), 10).call({"a": 1})
    assert result.content == "x" * 10 + "\n[brainjar: the result was cut to 10 of its 100 bytes]"
    assert result.data is None  # the structured data no longer matches the text


async def test_result_limited_cuts_on_a_character_boundary() -> None:
    result = await result_limited(make(Recorder(ToolResult(content="é" * 10))), 5).call({})
    assert result.content.startswith("éé\n[brainjar: the result was cut to 4 of its 20 bytes]")


async def test_result_limited_passes_a_short_result_untouched() -> None:
    short = ToolResult(content="x" * 10, data=[1])
    assert await result_limited(make(Recorder(short)), 10).call({}) is short


async def test_result_limited_refuses_instead_when_told_not_to_truncate() -> None:
    long = ToolResult(content="x" * 100)
    limited = result_limited(make(Recorder(long)), 10, truncate_results=False)
    with pytest.raises(ToolTooLarge, match="the result of t is 100 bytes; at most 10") as caught:
        await limited.call({"a": 1})
    assert caught.value.limit == "max_result_bytes"


# --- argument_limited --------------------------------------------------------------------


async def test_argument_limited_refuses_big_arguments_before_the_call() -> None:
    inner = Recorder()
    limited = argument_limited(make(inner), 50)
    with pytest.raises(ToolTooLarge, match=r"the arguments of t are \d+ bytes; at most 50") as e:
        await limited.call({"a": 1, "text": "x" * 100})
    assert e.value.limit == "max_argument_bytes" and inner.calls == []
    await limited.call({"a": 1, "text": "short"})
    assert inner.calls == [{"a": 1, "text": "short"}]


# --- approved ----------------------------------------------------------------------------


async def test_approved_asks_before_each_call() -> None:
    inner = Recorder()
    asked: list[tuple[str, dict[str, Any]]] = []

    async def only_small(tool: Tool, arguments: dict[str, Any]) -> bool:
        asked.append((tool.name, arguments))
        return bool(arguments["a"] < 10)

    gated = approved(make(inner), only_small)
    with pytest.raises(ToolError, match="the call to t was not approved"):
        await gated.call({"a": 99})
    assert inner.calls == []
    await gated.call({"a": 1})
    assert inner.calls == [{"a": 1}]
    assert asked == [("t", {"a": 99}), ("t", {"a": 1})]


# --- guarded -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (SystemExit(2), "t tried to end the process (SystemExit: 2); brainjar kept running"),
        (KeyboardInterrupt(), "t tried to end the process (KeyboardInterrupt: )"),
        (ValueError("bad value"), "t raised ValueError: bad value"),
    ],
)
async def test_guarded_turns_what_the_tool_raises_into_a_tool_error(
    raised: BaseException, expected: str
) -> None:
    with pytest.raises(ToolError) as caught:
        await guarded(make(Recorder(raised))).call({})
    assert type(caught.value) is ToolError
    assert str(caught.value).startswith(expected)


async def test_guarded_keeps_a_typed_tool_error_and_wraps_plain_values() -> None:
    with pytest.raises(BadArguments, match="mine"):
        await guarded(make(Recorder(BadArguments("mine")))).call({})
    result = await guarded(make(Recorder({"n": 1}))).call({})
    assert (result.content, result.data) == ('{"n": 1}', {"n": 1})


async def test_guarded_lets_cancellation_through() -> None:
    started = anyio.Event()
    outcome: list[str] = []

    async def waits(arguments: dict[str, Any]) -> ToolResult:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    async def caller() -> None:
        try:
            await guarded(make(waits)).call({})
        except ToolError:
            outcome.append("tool error")
        except anyio.get_cancelled_exc_class():
            outcome.append("cancelled")
            raise

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        with anyio.fail_after(LIMIT):
            await started.wait()
        tg.cancel_scope.cancel()
    assert outcome == ["cancelled"]


# --- apply_policy ------------------------------------------------------------------------


async def test_apply_policy_checks_argument_size_before_the_schema() -> None:
    policy = ToolPolicy(max_argument_bytes=20)
    with pytest.raises(ToolTooLarge):  # not BadArguments: the size is checked first
        await apply_policy(make(Recorder()), policy).call({"a": "not an int" * 10})


async def test_apply_policy_checks_the_schema_before_asking_for_approval() -> None:
    asked: list[dict[str, Any]] = []

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        asked.append(arguments)
        return True

    tool = apply_policy(make(Recorder()), ToolPolicy(approve=approve))
    with pytest.raises(BadArguments):
        await tool.call({"a": "x"})
    assert asked == []
    await tool.call({"a": 1})
    assert asked == [{"a": 1}]


async def test_apply_policy_approval_is_outside_the_time_limit() -> None:
    # A person may take a while to approve; only the call itself is timed. With a
    # limit of 0 any wait inside the limit is cancelled at once, so an approval that
    # completes proves it ran outside it.
    steps: list[str] = []

    async def approve(tool: Tool, arguments: dict[str, Any]) -> bool:
        await anyio.lowlevel.checkpoint()
        steps.append("approved")
        return True

    async def slow(arguments: dict[str, Any]) -> ToolResult:
        await anyio.lowlevel.checkpoint()
        steps.append("ran")
        return ToolResult(content="done")

    with pytest.raises(ToolTimeout):
        await apply_policy(make(slow), ToolPolicy(approve=approve, timeout=0)).call({"a": 1})
    assert steps == ["approved"]


async def test_apply_policy_guards_innermost_and_limits_what_it_made_of_the_value() -> None:
    # guarded turns the plain value into a ToolResult before the result limit reads it.
    tool = apply_policy(make(Recorder("y" * 50)), ToolPolicy(max_result_bytes=8))
    assert (await tool.call({"a": 1})).content.startswith("y" * 8 + "\n[brainjar: the result")
    exits = apply_policy(make(Recorder(SystemExit(1))), ToolPolicy(timeout=LIMIT))
    with pytest.raises(ToolError, match="tried to end the process"):
        await exits.call({"a": 1})


async def test_apply_policy_without_validation_lets_the_tool_judge() -> None:
    inner = Recorder()
    await apply_policy(make(inner), ToolPolicy(validate=False)).call({"a": "x"})
    assert inner.calls == [{"a": "x"}]
