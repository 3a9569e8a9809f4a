"""The ``brainjar`` command (typer): run, chat, validate, schema, tools, mcp, serve-tools, discover.

Each command imports what it needs when it runs, so ``brainjar --help`` stays fast.

May import: everything.
"""

from ._main import app, main

__all__ = ["app", "main"]
