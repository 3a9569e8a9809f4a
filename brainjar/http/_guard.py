"""The one gate in front of every brainjar HTTP server: Host, Origin and bearer token.

A server on a loopback address is meant for programs on this machine. Two
things can still reach it from outside that intent: a web page in the user's
browser (it can send requests to ``127.0.0.1``; its ``Origin`` header says where
it comes from) and DNS rebinding (a page's own host name made to resolve to
``127.0.0.1``; its ``Host`` header still carries that name). ``Guard`` refuses
both with 403, and requests without the server's bearer token with 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from brainjar._net import LOOPBACK_NAMES, is_loopback

__all__ = ["LOOPBACK_NAMES", "Guard", "Refusal", "Render", "is_loopback", "plain_text"]


@dataclass(frozen=True)
class Refusal:
    """A request the guard refuses.

    Attributes:
        status: 401 (token) or 403 (Host or Origin).
        message: what went wrong and what to do instead.
        code: ``invalid_api_key``, ``forbidden_host`` or ``forbidden_origin``.
        headers: response headers the refusal needs (``WWW-Authenticate``).
    """

    status: int
    message: str
    code: str
    headers: dict[str, str] = field(default_factory=dict)


Render = Callable[[Refusal], tuple[str, bytes]]
"""A server's error body for a refusal: its content type and bytes."""


def plain_text(refusal: Refusal) -> tuple[str, bytes]:
    """The refusal's message as plain text."""
    return "text/plain; charset=utf-8", refusal.message.encode()


class Guard:
    """ASGI middleware: checks Host, Origin and the bearer token before the app sees a request.

    Args:
        app: the app behind the guard.
        bound_host: the address the server listens on. On a loopback address the
            Host header must name a loopback host (any port) unless
            ``allowed_hosts`` says otherwise.
        token: the bearer token clients must send, or None.
        allowed_hosts: host names (no port) the Host header may carry, ``"*"``
            for any; default: loopback names on a loopback server, any elsewhere.
        allowed_origins: origins (``https://app.example``; ``http://host:*`` for
            any port) a browser request may come from besides loopback ones;
            ``"*"`` allows any.
        open_paths: paths that need no token (health probes).
        render: the error body of a refusal; default: plain text.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        bound_host: str,
        token: str | None = None,
        allowed_hosts: Iterable[str] | None = None,
        allowed_origins: Iterable[str] = (),
        open_paths: Collection[str] = (),
        render: Render = plain_text,
    ) -> None:
        self.app = app
        self._token = None if token is None else token.encode()
        if allowed_hosts is None:
            allowed_hosts = () if is_loopback(bound_host) else ("*",)
        self._hosts = frozenset(h.lower() for h in allowed_hosts)
        self._origins = frozenset(o.lower().rstrip("/") for o in allowed_origins)
        self._open = frozenset(open_paths)
        self._render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.check(scope)
            if refusal is not None:
                await self._refuse(send, refusal)
                return
        await self.app(scope, receive, send)

    def check(self, scope: Scope) -> Refusal | None:
        """Why a request is refused, or None to let it through."""
        host = origin = authorization = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value
        if not self._host_allowed(host):
            return Refusal(
                403,
                f"the Host header {host!r} is not allowed: this server answers to "
                f"{self._host_names()}; reach it by one of those",
                "forbidden_host",
            )
        if origin is not None and not self._origin_allowed(origin):
            return Refusal(
                403,
                f"requests from the web origin {origin!r} are not allowed: add it to the "
                "endpoint's allowed_origins if that page should use this server",
                "forbidden_origin",
            )
        if self._token is None or scope["path"] in self._open:
            return None
        if self._token_matches(authorization):
            return None
        what = "wrong" if authorization else "missing"
        return Refusal(
            401,
            f"the bearer token is {what}: send the header 'Authorization: Bearer <token>' "
            "with the token in this server's manifest entry",
            "invalid_api_key",
            {"WWW-Authenticate": "Bearer"},
        )

    def _host_allowed(self, host: str | None) -> bool:
        if "*" in self._hosts:
            return True
        if not host:
            return False  # HTTP/1.1 requires Host; a browser always sends one
        name = urlsplit(f"//{host}").hostname
        if name is None:
            return False
        return name in self._hosts or is_loopback(name)

    def _host_names(self) -> str:
        return ", ".join(["localhost", "127.0.0.1", "[::1]", *sorted(self._hosts)])

    def _origin_allowed(self, origin: str) -> bool:
        if "*" in self._origins:
            return True
        given = origin.lower().rstrip("/")
        try:
            parts = urlsplit(given)
            name = parts.hostname
            parts.port  # noqa: B018  # raises on a malformed port
        except ValueError:
            return False
        if parts.scheme in ("http", "https") and name is not None and is_loopback(name):
            return True
        if given in self._origins:
            return True
        return any(
            allowed.endswith(":*") and given.startswith(allowed[:-1]) for allowed in self._origins
        )

    def _token_matches(self, authorization: bytes | None) -> bool:
        assert self._token is not None
        scheme, _, value = (authorization or b"").strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), self._token)

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        content_type, body = self._render(refusal)
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in refusal.headers.items()),
        ]
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
