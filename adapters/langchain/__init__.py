"""LangChain tools by import path."""

from ._source import LangChainSource, load_langchain_tools, to_brainjar_tool

__all__ = ["LangChainSource", "load_langchain_tools", "to_brainjar_tool"]
