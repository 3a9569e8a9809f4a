"""LangChain tools in every form a manifest can name, for the adapter's tests."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from langchain_core.tools import BaseTool, BaseToolkit, ToolException, tool
from pydantic import BaseModel

# Set by an async test while a sync tool waits on it: proves sync tools run off the loop.
released = threading.Event()
# Holds every `hang` call until a test sets it; `hung` counts the calls that got there.
unhang = threading.Event()
hung = threading.Semaphore(0)
# The longest a `hang` call waits if a test forgets to release it.
HANG_LIMIT = 60.0


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


@tool
def hang(label: str) -> str:
    """Blocks its thread, as a tool stuck on a dead socket does, until the test releases it."""
    hung.release()
    unhang.wait(timeout=HANG_LIMIT)
    return f"{label} returned"


@tool
def exits(code: int) -> str:
    """Ends the process, as a CLI wrapper does."""
    sys.exit(code)


@tool
def cli(command_line: str) -> str:
    """Runs a command line through argparse, which exits on a bad one."""
    parser = argparse.ArgumentParser(prog="cli")
    parser.add_argument("--count", type=int, required=True)
    return str(parser.parse_args(command_line.split()).count)


def hang_kit() -> list[BaseTool]:
    return [hang, word_count]


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
