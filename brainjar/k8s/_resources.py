"""Resource requests and limits from what a jar needs, or from its annotations.

``backend: llama-cpp`` runs the model in the jar's pod: memory is the weights
file, the KV cache for ``context_size`` tokens and the runtime (Python, brainjar,
the llama.cpp server). Other backends reach a model elsewhere and get modest
defaults. Annotations override either:

- ``brainjar.dev/min-memory``: the memory request (and limit, unless set), e.g. ``2Gi``
- ``brainjar.dev/max-memory``: the memory limit
- ``brainjar.dev/cpu``: the CPU request, e.g. ``500m`` or ``2``
- ``brainjar.dev/gpu``: GPUs to ask for (``nvidia.com/gpu`` limit), e.g. ``1``
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError

from ._objects import CONFIG_DIR

__all__ = ["MIN_MEMORY", "jar_resources", "modest_resources"]

MIN_MEMORY = "brainjar.dev/min-memory"
MAX_MEMORY = "brainjar.dev/max-memory"
CPU = "brainjar.dev/cpu"
GPU = "brainjar.dev/gpu"
MiB = 1024 * 1024
# Python, brainjar and the llama.cpp server before any weights are loaded.
RUNTIME_BYTES = 256 * MiB
# The KV cache per token of context: an upper estimate (a 7B-class model with
# grouped-query attention at f16 needs about this; small models need far less).
KV_BYTES_PER_TOKEN = 128 * 1024
# Weights we cannot measure here (a path that exists only in the image).
UNKNOWN_WEIGHTS_BYTES = 1024 * MiB
# The limit leaves this much room above the request (allocator slack, long prompts).
LIMIT_FACTOR = 1.5
# Kubernetes quantities (the pattern the API server's OpenAPI schema uses).
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def _mib(size: float) -> str:
    return f"{math.ceil(size / MiB)}Mi"


def _override(base: dict[str, Any], annotations: dict[str, str], *, file: str) -> dict[str, Any]:
    bad = [
        f"{file}: metadata.annotations.{key}: {value!r} is not a Kubernetes quantity; "
        "write e.g. 2Gi, 512Mi, 500m or 2"
        for key, value in annotations.items()
        if key in (MIN_MEMORY, MAX_MEMORY, CPU, GPU) and not _QUANTITY.match(value)
    ]
    if bad:
        raise ManifestError(bad)
    requests, limits = dict(base["requests"]), dict(base["limits"])
    if CPU in annotations:
        requests["cpu"] = annotations[CPU]
    if MIN_MEMORY in annotations:
        requests["memory"] = limits["memory"] = annotations[MIN_MEMORY]
    if MAX_MEMORY in annotations:
        limits["memory"] = annotations[MAX_MEMORY]
    if GPU in annotations:
        limits["nvidia.com/gpu"] = annotations[GPU]
    return {"requests": requests, "limits": limits}


def modest_resources(annotations: dict[str, str], *, file: str) -> dict[str, Any]:
    """A jar whose model runs elsewhere, or a tool service: brainjar alone."""
    base = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    return _override(base, annotations, file=file)


def _weights_bytes(weights: str | None, *, base: Path, notes: list[str], file: str) -> int:
    if weights is None:
        return UNKNOWN_WEIGHTS_BYTES
    if weights.lower().endswith(".gguf"):
        path = Path(weights) if Path(weights).is_absolute() else base / weights
        where = f"{CONFIG_DIR}/{path.relative_to(base)}" if path.is_relative_to(base) else str(path)
        notes.append(
            f"{file}: spec.model.weights {path.name} is not carried (too large for a "
            f"ConfigMap): the pod reads it at {where}; mount it there (a volume with "
            "subPath), or build it into the image and write that absolute path"
        )
        if path.is_file():
            return path.stat().st_size
        notes.append(f"{file}: {path} is not here to measure; set {MIN_MEMORY}")
        return UNKNOWN_WEIGHTS_BYTES
    from brainjar.models._llamacpp import resolve_weights

    try:
        return resolve_weights(weights, base_dir=base).stat().st_size
    except ManifestError:  # packaged weights not installed where we render
        notes.append(
            f"{file}: packaged weights {weights} are not installed here to measure; "
            f"memory assumes {_mib(UNKNOWN_WEIGHTS_BYTES)}; set {MIN_MEMORY} to be exact"
        )
        return UNKNOWN_WEIGHTS_BYTES


def jar_resources(
    weights: str | None,
    *,
    context_size: int,
    annotations: dict[str, str],
    base: Path,
    notes: list[str],
    file: str,
) -> dict[str, Any]:
    """A llama-cpp jar: weights + KV cache + runtime, one CPU; annotations win."""
    if MIN_MEMORY in annotations:  # do not measure what the user has already decided
        need = 0
    else:
        need = (
            _weights_bytes(weights, base=base, notes=notes, file=file)
            + context_size * KV_BYTES_PER_TOKEN
            + RUNTIME_BYTES
        )
    base_resources = {
        "requests": {"cpu": "1", "memory": _mib(need)},
        "limits": {"memory": _mib(need * LIMIT_FACTOR)},
    }
    return _override(base_resources, annotations, file=file)
