"""What every HTTP server brainjar runs shares: the listening socket and uvicorn.

Used by the OpenAI/Ollama endpoints, the MCP HTTP server and the scripted model.

May import: ``brainjar._errors``.
"""

from ._listen import BACKLOG, QuietUvicorn, listen

__all__ = ["BACKLOG", "QuietUvicorn", "listen"]
