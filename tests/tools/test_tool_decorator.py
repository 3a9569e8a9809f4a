"""``brainjar.tool``: a function, sync or async, as a tool whose schema is its signature."""

from __future__ import annotations

import threading

import pytest

import brainjar
from brainjar._errors import BadArguments


@brainjar.tool
def add(a: int, b: int = 1) -> int:
    """Adds two numbers.

    Only the first paragraph is the description.
    """
    return a + b


@brainjar.tool(name="shout", description="Says it loudly.")
async def loud(text: str, times: int = 1) -> dict[str, str]:
    return {"said": (text.upper() + " ") * times}


def test_the_schema_is_read_from_the_signature() -> None:
    assert (add.name, add.description) == ("add", "Adds two numbers.")
    assert add.parameters == {
        "type": "object",
        "properties": {
            "a": {"title": "A", "type": "integer"},
            "b": {"default": 1, "title": "B", "type": "integer"},
        },
        "required": ["a"],
    }
    assert add.source == f"python:{__name__}.add"
    assert (loud.name, loud.description) == ("shout", "Says it loudly.")
    assert loud.parameters["required"] == ["text"]


async def test_a_sync_function_runs_in_a_worker_thread() -> None:
    threads: list[threading.Thread] = []

    @brainjar.tool
    def where() -> str:
        """Says which thread it ran in."""
        threads.append(threading.current_thread())
        return "here"

    assert (await where.call({})).content == "here"
    assert threads and threads[0] is not threading.current_thread()
    assert (await add.call({"a": 2, "b": 3})).content == "5"
    assert (await add.call({"a": 2})).content == "3"


async def test_an_async_function_is_awaited_and_its_value_kept_as_data() -> None:
    result = await loud.call({"text": "hi", "times": 2})
    assert result.data == {"said": "HI HI "}
    assert result.content == '{"said": "HI HI "}'


@pytest.mark.parametrize(
    "arguments",
    [{"a": "two"}, {}, {"a": 1, "c": 3}],
    ids=["wrong-type", "missing", "unknown"],
)
async def test_bad_arguments_are_bad_arguments(arguments: dict[str, object]) -> None:
    with pytest.raises(BadArguments, match="bad arguments for add"):
        await add.call(arguments)


async def test_bad_arguments_to_an_async_function_too() -> None:
    with pytest.raises(BadArguments, match="bad arguments for loud"):
        await loud.call({"times": 2})
