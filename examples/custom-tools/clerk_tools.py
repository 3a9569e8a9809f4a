"""Your own LangChain tools, attached to a jar by import path: no glue code.

brainjar makes the manifest's folder importable, so `clerk_tools:word_count`
in jar.yaml finds this file.
"""

from __future__ import annotations

from datetime import date

from langchain_core.tools import BaseTool, tool


@tool
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


@tool
def days_until(iso_date: str) -> str:
    """How many days from today until a date written as YYYY-MM-DD."""
    delta = (date.fromisoformat(iso_date) - date.today()).days
    return f"{delta} days"


class Shout(BaseTool):
    """A class-based tool; `with:` in the manifest sets its fields."""

    name: str = "shout"
    description: str = "Repeat a text in capitals."
    marks: int = 1

    def _run(self, text: str) -> str:
        return text.upper() + "!" * self.marks
