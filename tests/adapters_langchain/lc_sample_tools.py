"""LangChain tools in every form a manifest can name, for the adapter's tests."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit, ToolException, tool
from pydantic import BaseModel

# Set by an async test while a sync tool waits on it: proves sync tools run off the loop.
released = threading.Event()


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


@tool
def wait_for_release() -> str:
    """Blocks its thread until the test releases it."""
    if not released.wait(timeout=20):
        raise ToolException("never released")
    return "released"


@tool
def always_fails(reason: str) -> str:
    """Fails with the reason given."""
    raise ToolException(reason)


class Greeter(BaseTool):
    name: str = "greet"
    description: str = "Greets someone."
    greeting: str = "Hello"

    def _run(self, who: str) -> str:
        return f"{self.greeting}, {who}!"

    async def _arun(self, who: str) -> str:
        return f"{self.greeting}, {who}!"


class Kit(BaseToolkit):
    suffix: str = ""

    def get_tools(self) -> list[BaseTool]:
        return [Greeter(name="greet" + self.suffix), word_count]


def make_tools(count: int = 2) -> list[BaseTool]:
    return [Greeter(name=f"greet_{i}") for i in range(count)]


class NotATool(BaseModel):
    x: int = 1


def broken_factory(**kwargs: Any) -> list[BaseTool]:
    raise RuntimeError("the factory needs a database")
