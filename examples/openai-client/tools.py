"""The jar's tool: a LangChain tool, attached by import path in jar.yaml."""

from langchain_core.tools import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
