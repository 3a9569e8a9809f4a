"""What both model clients take from the environment: the proxy and the trusted CAs.

Read the same way for the OpenAI-compatible client (aiohttp) and the Ollama
client (the ollama SDK's httpx, told not to read the environment itself), so a
model on this machine is never sent through a proxy, whichever its protocol.
"""

from __future__ import annotations

import os
import ssl
import urllib.parse
import urllib.request

import certifi

from brainjar._net import is_loopback

__all__ = ["env_proxy", "tls_context"]


def env_proxy(url: str) -> str | None:
    """The proxy that ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
    name for ``url`` (any letter case, as httpx and curl read them), or ``None``.

    A model on this machine (``localhost``, a loopback address) is never reached
    through a proxy, as Go's HTTP client does: a jar's own llama.cpp server is one.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if (
        host is None
        or is_loopback(host)
        or host.endswith(".localhost")
        or urllib.request.proxy_bypass(host)
    ):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def tls_context() -> ssl.SSLContext:
    """The certificates httpx and the openai SDK trust: those ``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR`` name (OpenSSL reads both), else certifi's bundle, which every
    platform has (a python.org Python on macOS has no system store of its own)."""
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
