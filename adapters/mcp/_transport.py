"""How a ``McpSource`` reaches its server: the stdio environment, the HTTP client, safe names.

A stdio server gets what the MCP SDK gives it by default (a few safe variables
such as ``PATH`` and ``HOME``) plus the variables it is given or allowed to
inherit, not this process's secrets. An HTTP session that the server no longer
knows (404 on a request that carries its session id, e.g. after a restart) is
reported at once. URLs in names and messages lose their user info and query.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import MCP_SESSION_ID, streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

__all__ = [
    "Refusal",
    "display_url",
    "http_transport",
    "redact",
    "refusal",
    "server_environment",
]

# How long a response may stay silent (a slow tool; the loop limits calls).
HTTP_READ_LIMIT = 300.0
# The limit on each step (connect, send, answer) of closing an HTTP session (its
# DELETE): a server that stopped answering must not hold up the reconnection.
HTTP_CLOSE_LIMIT = 5.0


class Refusal:
    """Whether the server refused a request because it does not know the session."""

    refused = False


# The Refusal of the request being made in this context. The SDK's HTTP transport
# sends a request in its sender's context, so the transport can tell which
# request got the 404, even when the session closes before the error arrives.
refusal: ContextVar[Refusal | None] = ContextVar("brainjar_mcp_refusal", default=None)


def server_environment(
    env: Mapping[str, str], *, passthrough: Sequence[str] = (), inherit: bool = False
) -> dict[str, str]:
    """The environment of a stdio server.

    Args:
        env: variables set for the server; they win over the rest.
        passthrough: names of this process's variables to pass on (those set).
        inherit: pass this process's whole environment (secrets included).
    """
    if inherit:
        return {**os.environ, **env}
    passed = {name: os.environ[name] for name in passthrough if name in os.environ}
    return {**get_default_environment(), **passed, **env}


@asynccontextmanager
async def http_transport(
    url: str,
    *,
    headers: dict[str, str],
    connect_limit: float,
    on_session_gone: Callable[[], None],
) -> AsyncIterator[Any]:
    """A streamable-HTTP transport that calls ``on_session_gone`` when the server
    answers 404 to a request of the session (it forgot it, e.g. it restarted),
    and marks that request's ``refusal``."""

    async def watch(response: httpx2.Response) -> None:
        if response.status_code == 404 and MCP_SESSION_ID in response.request.headers:
            if (mark := refusal.get()) is not None:
                mark.refused = True
            on_session_gone()

    async def bound_close(request: httpx2.Request) -> None:
        if request.method == "DELETE":  # the session's end, sent as the transport closes
            request.extensions["timeout"] = httpx2.Timeout(HTTP_CLOSE_LIMIT).as_dict()

    client = create_mcp_http_client(
        headers=headers,
        timeout=httpx2.Timeout(connect_limit, read=max(connect_limit, HTTP_READ_LIMIT)),
    )
    client.event_hooks["request"].append(bound_close)
    client.event_hooks["response"].append(watch)
    async with client, streamable_http_client(url, http_client=client) as streams:
        yield streams


def display_url(url: str) -> str:
    """``url``'s host and port, without the user info (a password) or query (a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None else host


def redact(text: str, url: str | None) -> str:
    """``text`` without the secrets of ``url`` (its user info and query), where it quotes them."""
    if not url:
        return text
    parts = urlsplit(url)
    if "@" in parts.netloc:
        text = text.replace(parts.netloc.rsplit("@", 1)[0] + "@", "***@")
    for secret in (parts.password, parts.query):
        if secret:
            text = text.replace(secret, "***")
    return text
