"""The local store: an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``).

Every blob is written to a temporary file beside its place, hashed, and renamed
into place only when its digest is the one expected, so a store never holds a
half-written or tampered blob. ``index.json`` is replaced atomically. Images
are unpacked (once per manifest digest) into a cache beside the layout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainjar._errors import BrainjarError

from ._media import (
    INDEX_MEDIA_TYPE,
    JAR_FILE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    REF_NAME,
    TITLE,
    WEIGHT_MEDIA_TYPE,
)

__all__ = ["ImageError", "Store", "default_store", "sha256_file"]

ENV_VAR = "BRAINJAR_IMAGES"
# What the unpacked folder keeps of the image: its annotations, for the fits check.
IMAGE_INFO = ".brainjar-image.json"
_CHUNK = 1 << 20


class ImageError(BrainjarError):
    """An image could not be built, stored, found, pushed or pulled."""


def sha256_file(path: Path) -> tuple[str, int]:
    """The ``sha256:`` digest and the size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size


def canonical_json(data: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same data, the same bytes, the same digest."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Entry:
    """One tagged image of the store."""

    ref: str
    digest: str
    size: int


class Store:
    """An OCI image layout on disk, with an unpack cache beside it."""

    def __init__(self, root: Path, *, cache: Path | None = None) -> None:
        self.root = root
        self.cache = cache if cache is not None else root.parent / f"{root.name}-unpacked"
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        layout = root / "oci-layout"
        if not layout.exists():
            layout.write_text('{"imageLayoutVersion":"1.0.0"}')
        if not (root / "index.json").exists():
            self._write_index([])

    # blobs

    def blob_path(self, digest: str) -> Path:
        """Where the blob ``sha256:<hex>`` lives (it may not exist)."""
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64:
            raise ImageError(f"{digest!r} is not a sha256 digest; brainjar stores sha256 only")
        return self.blobs / hexdigest

    def has(self, digest: str) -> bool:
        """Whether the blob is in the store."""
        return self.blob_path(digest).is_file()

    @contextlib.contextmanager
    def writer(self, expected: str | None = None) -> Iterator[tuple[Any, list[str]]]:
        """A temporary file to write a blob to; verified and renamed into place on exit.

        Yields ``(handle, out)``: after the block, ``out[0]`` is the blob's digest.

        Raises:
            ImageError: the content's digest is not ``expected`` (nothing is kept).
        """
        fd, name = tempfile.mkstemp(dir=self.blobs, prefix=".incoming-")
        tmp = Path(name)
        out: list[str] = []
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, out
            digest, _ = sha256_file(tmp)
            if expected is not None and digest != expected:
                raise ImageError(
                    f"blob {expected} arrived with digest {digest}: its content was changed "
                    "on the way or in the registry; it was not stored. Push the image again "
                    "from a trusted copy"
                )
            tmp.chmod(0o644)
            tmp.replace(self.blob_path(digest))
            out.append(digest)
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> str:
        """Stores ``data``; returns its digest."""
        with self.writer() as (handle, out):
            handle.write(data)
        return out[0]

    def put_file(self, path: Path) -> tuple[str, int]:
        """Stores a copy of the file (once: a blob already there is not copied again)."""
        digest, size = sha256_file(path)
        if not self.has(digest):
            with self.writer(digest) as (handle, _), path.open("rb") as source:
                shutil.copyfileobj(source, handle, _CHUNK)
        return digest, size

    def read_json(self, digest: str) -> dict[str, Any]:
        """A JSON blob (a manifest or a config)."""
        try:
            data: dict[str, Any] = json.loads(self.blob_path(digest).read_bytes())
        except FileNotFoundError:
            raise ImageError(
                f"blob {digest} is missing from the store at {self.root}; pull the image again"
            ) from None
        return data

    # index

    def _read_index(self) -> list[dict[str, Any]]:
        data = json.loads((self.root / "index.json").read_text())
        manifests: list[dict[str, Any]] = data.get("manifests", [])
        return manifests

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        data = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}
        tmp = self.root / ".index.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(self.root / "index.json")

    def tag(self, ref: str, digest: str) -> None:
        """Points ``ref`` (``name:tag``) at the image manifest ``digest``."""
        size = self.blob_path(digest).stat().st_size
        kept = [m for m in self._read_index() if m.get("annotations", {}).get(REF_NAME) != ref]
        kept.append(
            {
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": digest,
                "size": size,
                "annotations": {REF_NAME: ref},
            }
        )
        self._write_index(sorted(kept, key=lambda m: str(m["annotations"][REF_NAME])))

    def entries(self) -> list[Entry]:
        """The tagged images, by reference."""
        return [
            Entry(m["annotations"][REF_NAME], m["digest"], m["size"])
            for m in self._read_index()
            if REF_NAME in m.get("annotations", {})
        ]

    def lookup(self, ref: str) -> str | None:
        """The manifest digest that ``ref`` (``name:tag``) points at, if any."""
        return next((e.digest for e in self.entries() if e.ref == ref), None)

    def untag(self, ref: str) -> bool:
        """Removes ``ref``; whether it was there. Blobs stay until ``gc``."""
        manifests = self._read_index()
        kept = [m for m in manifests if m.get("annotations", {}).get(REF_NAME) != ref]
        self._write_index(kept)
        return len(kept) != len(manifests)

    def gc(self) -> int:
        """Deletes blobs and unpacked folders no tagged image uses; returns bytes freed."""
        live: set[str] = set()
        for entry in self.entries():
            live.add(entry.digest)
            manifest = self.read_json(entry.digest)
            live.add(manifest["config"]["digest"])
            live.update(layer["digest"] for layer in manifest.get("layers", []))
        freed = 0
        for blob in self.blobs.iterdir():
            if f"sha256:{blob.name}" not in live:
                freed += blob.stat().st_size
                blob.unlink()
        if self.cache.is_dir():
            for folder in self.cache.iterdir():
                if f"sha256:{folder.name}" not in live:
                    shutil.rmtree(folder, ignore_errors=True)
        return freed

    # unpacking

    def unpack(self, digest: str) -> Path:
        """The image's folder (its manifest is ``brainjar.yaml`` in it), unpacked once."""
        target = self.cache / digest.partition(":")[2]
        if (target / IMAGE_INFO).is_file():
            return target
        manifest = self.read_json(digest)
        self.cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache, prefix=".unpacking-"))
        try:
            for layer in manifest.get("layers", []):
                blob = self.blob_path(layer["digest"])
                if layer["mediaType"] == LAYER_MEDIA_TYPE:
                    with tarfile.open(blob) as archive:
                        archive.extractall(tmp, filter="data")
                elif layer["mediaType"] == WEIGHT_MEDIA_TYPE:
                    title = Path(layer.get("annotations", {}).get(TITLE, "model.gguf")).name
                    place = tmp / "weights" / title
                    place.parent.mkdir(parents=True, exist_ok=True)
                    try:  # a hard link: no copy of the weights, and it outlives a gc
                        os.link(blob, place)
                    except OSError:
                        shutil.copyfile(blob, place)
            if not (tmp / JAR_FILE).is_file():
                raise ImageError(
                    f"image {digest} has no {JAR_FILE}: it is not a brainjar jar image"
                )
            info = {"digest": digest, "annotations": manifest.get("annotations", {})}
            (tmp / IMAGE_INFO).write_text(json.dumps(info, indent=2))
            try:
                tmp.rename(target)
            except OSError:  # another brainjar unpacked it first, or a broken leftover
                if not (target / IMAGE_INFO).is_file():
                    shutil.rmtree(target, ignore_errors=True)
                    tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target


def default_store() -> Store:
    """The user's store: ``$BRAINJAR_IMAGES``, else ``<user data dir>/brainjar/images``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Store(Path(override).expanduser())
    import platformdirs

    return Store(platformdirs.user_data_path("brainjar") / "images")
