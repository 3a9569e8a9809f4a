"""LangChain tools by import path."""

from ._source import LangChainSource, load_langchain_tools, runs_sync, to_brainjar_tool
from ._threads import TOOL_THREADS, ToolThreads

__all__ = [
    "TOOL_THREADS",
    "LangChainSource",
    "ToolThreads",
    "load_langchain_tools",
    "runs_sync",
    "to_brainjar_tool",
]
