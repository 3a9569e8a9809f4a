"""What every HTTP server brainjar runs shares: the listening socket, the uvicorn
runner with its limits and one way to stop, and the Host/Origin/token guard.

Used by the OpenAI/Ollama endpoints, the MCP HTTP server and the scripted model.

May import: ``brainjar._redact``, ``_errors``, ``_worker`` and ``_net``.
"""

from ._drain import CLOSE_GRACE, serve_and_drain
from ._guard import Guard, Refusal, Render, is_loopback, plain_text
from ._listen import BACKLOG, QuietUvicorn, listen, reserve
from ._server import HEAD_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS, MAX_HEAD, STOP_GRACE, serve_asgi

__all__ = [
    "BACKLOG",
    "CLOSE_GRACE",
    "HEAD_TIMEOUT",
    "KEEP_ALIVE",
    "MAX_CONNECTIONS",
    "MAX_HEAD",
    "STOP_GRACE",
    "Guard",
    "QuietUvicorn",
    "Refusal",
    "Render",
    "is_loopback",
    "listen",
    "plain_text",
    "reserve",
    "serve_and_drain",
    "serve_asgi",
]
