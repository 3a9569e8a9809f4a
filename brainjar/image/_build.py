"""``brainjar build``: a manifest and what it needs, packed into an image in the local store."""

from __future__ import annotations

import io
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError

from . import _media as media
from ._files import jar_files, write_layer
from ._needs import gguf_facts, needs_of
from ._ref import Reference
from ._store import Store, canonical_json

__all__ = ["Built", "build_image"]

# How long `git rev-parse` may take to say which commit the jar's folder is at.
GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Built:
    """What ``build_image`` stored."""

    digest: str
    size: int
    annotations: dict[str, str]


def _git(base: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(base), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _created(paths: list[Path]) -> str:
    # Reproducible: SOURCE_DATE_EPOCH, else the newest input file, not the clock.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch else max(int(p.stat().st_mtime) for p in paths)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _raw(manifest_path: Path) -> Any:
    """The manifest as written (``${VAR}`` kept), comments and all."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    return yaml.load(manifest_path.read_text(encoding="utf-8"))


def _local(part: str) -> bool:
    """Whether a command word names a file relative to the manifest (as _files packs it)."""
    return not part.startswith(("-", "/")) and ("/" in part or part.endswith((".py", ".js")))


def _rewrite(data: Any, *, weights: str | None) -> bytes:
    """The manifest as written, with the weights at their place in the image."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    if weights is not None:
        data["spec"]["model"]["weights"] = weights
    for entry in data["spec"].get("tools") or []:
        mcp = entry.get("mcp") if hasattr(entry, "get") else None
        command = [*(mcp.get("command") or []), *(mcp.get("args") or [])] if mcp else []
        if mcp and "cwd" not in mcp and any(_local(str(part)) for part in command):
            # A local script is packed beside the manifest; run it from its place in
            # the image, not from wherever `brainjar run REF` is started.
            mcp["cwd"] = "."
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue().encode()


def _tool_summary(entry: Any) -> str:
    if hasattr(entry, "langchain"):
        return f"langchain:{entry.langchain}"
    if hasattr(entry, "mcp"):
        return f"mcp:{entry.mcp.name or entry.mcp.url or ' '.join(entry.mcp.command or [])}"
    return "discover:" + ",".join(f"{k}={v}" for k, v in sorted(entry.discover.selector.items()))


def _endpoint_summary(entry: Any) -> str:
    for kind in ("openai", "ollama", "mcp", "grpc"):
        config = getattr(entry, kind, None)
        if config is not None:
            return f"{kind}:{getattr(config, 'port', '')}"
    return "unknown"


def build_image(manifest_path: Path, ref: Reference, *, store: Store) -> Built:
    """Packs the jar at ``manifest_path`` into ``store`` and tags it ``ref``.

    Raises:
        ManifestError: the manifest is not valid, or needs files it cannot pack.
    """
    from brainjar.manifest._load import load_manifest
    from brainjar.models._llamacpp import resolve_weights

    manifest: Any = load_manifest(manifest_path)
    if getattr(manifest, "kind", None) != "Jar":
        raise ManifestError(f"{manifest_path}: only a manifest of kind Jar can be built")
    base = manifest_path.parent.resolve()
    model = manifest.spec.model
    weights: Path | None = None
    if model.backend == "llama-cpp" and model.weights is not None:
        weights = resolve_weights(model.weights, base_dir=base)
    raw = _raw(manifest_path)
    files = jar_files(manifest, manifest_path=manifest_path, raw=raw)
    in_image = f"./{media.WEIGHTS_DIR}/{weights.name}" if weights is not None else None
    text = _rewrite(raw, weights=in_image)

    with store.writer() as (handle, out):
        write_layer(handle, manifest_text=text, jar_file=media.JAR_FILE, files=files)
    layer_digest = out[0]
    layers: list[dict[str, Any]] = [
        {
            "mediaType": media.LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": store.blob_path(layer_digest).stat().st_size,
            "annotations": {media.TITLE: "jar.tar"},
        }
    ]
    needs = needs_of(manifest, weights=weights)
    annotations: dict[str, str] = dict(manifest.metadata.annotations)
    annotations.update(
        {
            media.TITLE: manifest.metadata.name,
            media.VERSION: manifest.metadata.version,
            media.CREATED: _created([manifest_path, *files.values()]),
            media.BACKEND: model.backend,
            media.MEMORY: str(needs.memory),
            media.GPU: "true" if needs.gpu else "false",
            media.TOOLS: json.dumps([_tool_summary(t) for t in manifest.spec.tools]),
            media.ENDPOINTS: json.dumps([_endpoint_summary(e) for e in manifest.spec.endpoints]),
            media.LABELS: json.dumps(dict(manifest.metadata.labels), sort_keys=True),
        }
    )
    if manifest.metadata.description:
        annotations[media.DESCRIPTION] = manifest.metadata.description
    revision = _git(base, "rev-parse", "HEAD")
    if revision:
        annotations[media.REVISION] = revision
        annotations[media.SOURCE] = _git(base, "remote", "get-url", "origin") or str(base)
    config: dict[str, Any] = {
        "name": manifest.metadata.name,
        "version": manifest.metadata.version,
        "manifest": media.JAR_FILE,
        "backend": model.backend,
        "needs": {"memory": needs.memory, "gpu": needs.gpu},
    }
    if weights is not None:
        facts = gguf_facts(weights)
        annotations[media.PARAMETERS] = str(facts.parameters)
        annotations[media.QUANTIZATION] = facts.quantization
        annotations[media.CONTEXT_LENGTH] = str(facts.context_length)
        digest, size = store.put_file(weights)
        layers.append(
            {
                "mediaType": media.WEIGHT_MEDIA_TYPE,
                "digest": digest,
                "size": size,
                "annotations": {media.TITLE: weights.name},
            }
        )
        config["weights"] = in_image
        config["context_size"] = model.context_size
    config_bytes = canonical_json(config)
    image = {
        "schemaVersion": 2,
        "mediaType": media.MANIFEST_MEDIA_TYPE,
        "artifactType": media.CONFIG_MEDIA_TYPE,
        "config": {
            "mediaType": media.CONFIG_MEDIA_TYPE,
            "digest": store.put_bytes(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layers,
        "annotations": annotations,
    }
    image_bytes = canonical_json(image)
    digest = store.put_bytes(image_bytes)
    store.tag(ref.tagged, digest)
    size = len(image_bytes) + len(config_bytes) + sum(layer["size"] for layer in layers)
    return Built(digest, size, annotations)
