"""Jar images: a jar packed as an OCI image, a local store, push and pull, fits-before-start.

May import ``manifest``, ``models`` (for weights) and ``_errors``; ``jar`` and
``cli`` may import it. The image layout (media types, annotations) is in
``_media`` and written down in the README ("Jars as images").
"""

from __future__ import annotations

import os
from pathlib import Path

from brainjar._errors import ManifestError

from ._build import Built, build_image
from ._needs import (
    Machine,
    Needs,
    check_fits,
    machine,
    needs_from_annotations,
    needs_of,
    refusal,
)
from ._ref import Reference, looks_like_reference, parse_reference
from ._remote import PullResult, PushResult, pull_image, push_image
from ._store import ImageError, Store, default_store

__all__ = [
    "Built",
    "ImageError",
    "Machine",
    "Needs",
    "PullResult",
    "PushResult",
    "Reference",
    "Store",
    "build_image",
    "check_fits",
    "default_store",
    "looks_like_reference",
    "machine",
    "needs_from_annotations",
    "needs_of",
    "parse_reference",
    "pull_image",
    "push_image",
    "refusal",
    "resolve_image",
]

# A CA bundle for registries that `brainjar run REF` pulls from on its own.
CA_ENV = "BRAINJAR_REGISTRY_CA"


def resolve_image(text: str, *, store: Store | None = None) -> Path:
    """The unpacked manifest of the image ``text`` names, pulled first if it is absent.

    A registry on loopback is reached over plain HTTP (as docker does for
    localhost); others over TLS, with ``$BRAINJAR_REGISTRY_CA`` as the CA if set.

    Raises:
        ManifestError: ``text`` is not a reference, or an image neither in the store
            nor in a registry named by it.
        ImageError: the pull failed.
    """
    from ._media import JAR_FILE
    from ._remote import _loopback

    store = store if store is not None else default_store()
    ref = parse_reference(text)
    digest = ref.digest if ref.digest and store.has(ref.digest) else None
    if digest is None and ref.digest is None:
        digest = store.lookup(ref.tagged)
    if digest is None:
        if ref.registry is None:
            raise ManifestError(
                f"{text} is neither a file nor an image in the local store ({store.root}); "
                "check the path, or build the image with brainjar build MANIFEST -t REF"
            )
        ca = os.environ.get(CA_ENV)
        digest = pull_image(
            ref,
            store=store,
            insecure=_loopback(ref.registry),
            ca=Path(ca) if ca else None,
        ).digest
    return store.unpack(digest) / JAR_FILE
