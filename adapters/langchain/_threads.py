"""The threads one LangChain source's sync tools run in: ``brainjar.tools.ToolThreads``.

The pool lives in the tools layer, where ``@tool`` functions use it too; it is
re-exported here, where LangChain sources have always found it.
"""

from brainjar.tools import TOOL_THREADS, ToolThreads

__all__ = ["TOOL_THREADS", "ToolThreads"]
