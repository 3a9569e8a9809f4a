"""MCP servers as tools, and the jar as an MCP server."""

from ._client import McpSource, source_from_manifest

__all__ = ["McpSource", "source_from_manifest"]
