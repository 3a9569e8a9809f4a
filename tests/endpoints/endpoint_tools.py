"""LangChain tools a jar under test uses, attached by import path in its manifest."""

from __future__ import annotations

from langchain_core.tools import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
