"""Image references: ``[registry/]repository[:tag][@sha256:hex]``, as docker and oras write them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from brainjar._errors import ManifestError

__all__ = ["Reference", "looks_like_reference", "parse_reference"]

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# A host: it has a dot or a port, or is localhost (as docker decides).
_HOST = (
    r"(?:localhost(?::[0-9]+)?|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]+)?"
    r"|[A-Za-z0-9-]+:[0-9]+|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
)
_REFERENCE = re.compile(
    rf"^(?:(?P<registry>{_HOST})/)?(?P<repository>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
DEFAULT_TAG = "latest"


@dataclass(frozen=True)
class Reference:
    """A parsed image reference.

    Attributes:
        registry: ``host[:port]``, or ``None`` for an image only in the local store.
        repository: the path inside the registry, e.g. ``jars/hello``.
        tag: the tag as written (``None``: ``latest``, unless a digest pins the image).
        digest: ``sha256:...`` when the reference pins one.
    """

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository`` (or the repository alone)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def tagged(self) -> str:
        """``name:tag``: the key under which the local store keeps the image."""
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    @property
    def target(self) -> str:
        """What the registry's manifest URL ends in: the digest, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        if self.digest is None:
            return self.tagged
        return f"{self.name}{':' + self.tag if self.tag else ''}@{self.digest}"


def parse_reference(text: str) -> Reference:
    """Parses ``text`` as an image reference.

    Raises:
        ManifestError: it is not one, with an example of what to write.
    """
    match = _REFERENCE.match(text.strip())
    if match is None:
        raise ManifestError(
            f"{text!r} is not an image reference; write e.g. 127.0.0.1:5000/jars/hello:1, "
            "hello:1 or registry.example.com/jars/hello@sha256:<64 hex digits>"
        )
    registry, repository = match["registry"], match["repository"]
    tag, digest = match["tag"], match["digest"]
    return Reference(registry, repository, tag, digest)


def looks_like_reference(text: str) -> bool:
    """Whether ``text`` (not an existing file) is meant as an image reference.

    Names ending in ``.yaml``/``.yml`` are taken as manifest paths, so a mistyped
    path still gets the "no such file" message.
    """
    if text.lower().endswith((".yaml", ".yml", ".json")):
        return False
    try:
        parse_reference(text)
    except ManifestError:
        return False
    return True
