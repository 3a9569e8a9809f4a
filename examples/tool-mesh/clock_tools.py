"""Offline LangChain tools for the tool-mesh example."""

from datetime import UTC, datetime

from langchain_core.tools import tool


@tool
def utc_now() -> str:
    """The current time in UTC, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@tool
def add(a: float, b: float) -> float:
    """Adds two numbers."""
    return a + b
