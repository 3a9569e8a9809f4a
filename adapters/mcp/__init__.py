"""MCP servers as tools, and the jar as an MCP server."""
