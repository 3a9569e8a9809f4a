"""A token server for a registry with bearer-token auth (the Docker token protocol).

The registry (``auth: token``) answers 401 with ``Bearer realm=...,service=...``; the
client asks the realm for a token with its user name and password (basic auth) and
sends that token. This server issues JWTs signed with a key whose certificate the
registry trusts (``rootcertbundle``), carried in the ``x5c`` header as real token
servers (Harbor, docker_auth) do. Anonymous requests get a token with no access, as
Docker Hub's do; wrong credentials get 401.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ISSUER = "brainjar-test-issuer"
SERVICE = "brainjar-test-registry"
TOKEN_LIFETIME = 300


@dataclass(frozen=True)
class TokenServer:
    """A running token server: the realm URL and the certificate the registry must trust."""

    realm: str
    certificate: Path
    issued: list[dict[str, object]]


def _grant(scopes: list[str]) -> list[dict[str, object]]:
    """Every action asked for, on every repository asked for (the user may do all)."""
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    return access


@contextmanager
def token_server(folder: Path, user: tuple[str, str]) -> Iterator[TokenServer]:
    """Serves ``/token`` on 127.0.0.1 for ``user`` until the block ends."""
    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from tls_support import self_signed_pem

    cert_pem, key_pem = self_signed_pem()
    certificate = folder / "token.crt"
    certificate.write_bytes(cert_pem)
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    chain = [base64.b64encode(der).decode()]
    expected = "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    issued: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            given = self.headers.get("Authorization")
            if url.path != "/token" or query.get("service") != [SERVICE]:
                self._answer(404, {"details": "unknown path or service"})
                return
            if given is not None and given != expected:
                self._answer(401, {"details": "wrong user name or password"})
                return
            now = int(time.time())
            claims: dict[str, object] = {
                "iss": ISSUER,
                "sub": user[0] if given else "",
                "aud": SERVICE,
                "iat": now,
                "nbf": now - 10,
                "exp": now + TOKEN_LIFETIME,
                "jti": uuid.uuid4().hex,
                "access": _grant(query.get("scope", [])) if given else [],
            }
            issued.append(claims)
            token = jwt.encode(claims, key_pem, algorithm="ES256", headers={"x5c": chain})
            self._answer(200, {"token": token, "access_token": token, "expires_in": 300})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield TokenServer(f"http://127.0.0.1:{port}/token", certificate, issued)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def registry_auth(server: TokenServer) -> str:
    """The ``auth:`` section of a registry config that trusts ``server``'s tokens."""
    return (
        "auth:\n  token:\n"
        f"    realm: {server.realm}\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {server.certificate}\n"
    )
