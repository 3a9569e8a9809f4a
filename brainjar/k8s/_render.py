"""From manifest files to Kubernetes objects: the entry point of ``brainjar render k8s``."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError
from brainjar.manifest import JarManifest, ToolServiceManifest, load_yaml, read_manifest

from ._discover import ToolServiceRef, tool_service_ref
from ._jar import jar_objects
from ._toolservice import tool_service_objects

__all__ = ["DEFAULT_IMAGE", "RenderOptions", "Rendered", "render_manifests"]


def _version() -> str:
    try:
        return importlib.metadata.version("brainjar")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "latest"


# The image the repository's Dockerfile builds. A placeholder: nothing is published
# under this name by this project; build the image, push it where your cluster
# pulls from, and pass --image.
DEFAULT_IMAGE = f"ghcr.io/brainjar/brainjar:{_version()}"
# The drain grace `brainjar run --grace` defaults to (seconds).
DEFAULT_GRACE = 30.0
# The cluster's DNS domain (kubelet's --cluster-domain), for the tool services' SRV names.
CLUSTER_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class RenderOptions:
    """How to render: the image, the namespace, replicas, the drain grace, the DNS domain."""

    image: str = DEFAULT_IMAGE
    namespace: str | None = None
    replicas: int = 1
    grace: float = DEFAULT_GRACE
    cluster_domain: str = CLUSTER_DOMAIN


@dataclass
class Rendered:
    """The objects, in a stable order, and notes for the user on what changed."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def render_manifests(
    paths: Sequence[Path],
    options: RenderOptions = RenderOptions(),  # frozen: one shared default is safe
    *,
    env: Mapping[str, str] | None = None,
) -> Rendered:
    """Renders each manifest (Jar or ToolService) into Kubernetes objects.

    The manifests are read as ``brainjar run`` reads them (``env`` fills their
    ``${VAR}``s, for ports and the model's name); the ConfigMap keeps every other
    ``${VAR}`` as written, and the pod reads it from a Secret. A jar's ``discover``
    selectors are matched against the ToolServices among ``paths``, whatever their order.

    Raises:
        ManifestError: a manifest is not valid, two manifests make different objects
            of one kind and name, or a label or annotation is not one Kubernetes takes.
    """
    if options.replicas < 1:
        raise ManifestError(f"--replicas must be 1 or more, not {options.replicas}")
    result = Rendered()
    read: list[tuple[Path, object, dict[str, Any]]] = []
    for path in paths:
        parsed, _ = read_manifest(path, env=env)
        raw, _ = load_yaml(Path(path).read_text(encoding="utf-8"), file=str(path))
        read.append((Path(path), parsed, raw))
    services: list[ToolServiceRef] = [
        tool_service_ref(manifest, file=path.name)
        for path, manifest, _ in read
        if isinstance(manifest, ToolServiceManifest)
    ]
    by_key: dict[tuple[str, str], tuple[dict[str, Any], Path]] = {}
    for path, manifest, raw in read:
        if isinstance(manifest, JarManifest):
            objects, notes = jar_objects(
                manifest, raw, path=path, options=options, services=services
            )
        elif isinstance(manifest, ToolServiceManifest):
            objects, notes = tool_service_objects(manifest, raw, path=path, options=options)
        else:  # pragma: no cover - KINDS has only these two
            raise ManifestError(f"{path}: cannot render a {type(manifest).__name__}")
        result.notes.extend(notes)
        for obj in objects:
            key = (obj["kind"], obj["metadata"]["name"])
            if key in by_key:
                first, where = by_key[key]
                if first == obj:  # two jars on one Ollama model share it
                    continue
                raise ManifestError(
                    f"{path}: makes a {key[0]} named {key[1]} that {where} makes "
                    "differently; give the manifests different metadata.name"
                )
            by_key[key] = (obj, path)
            result.objects.append(obj)
    return result
