"""What a jar needs to run (memory, a GPU), and whether this machine has it.

The memory a llama.cpp jar needs is computed from its GGUF header: the weights
(mapped whole), the KV cache for the manifest's context size (keys and values,
f16, for every layer and KV head), the logits buffer of one batch, and the
fixed cost of the ``llama_cpp.server`` process. A manifest's
``metadata.annotations`` (``brainjar.dev/memory``, ``brainjar.dev/gpu``)
override what is computed.
"""

from __future__ import annotations

import functools
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from brainjar._errors import ManifestError
from brainjar.manifest._size import parse_size

from . import _media as media

__all__ = [
    "GgufFacts",
    "Machine",
    "Needs",
    "check_fits",
    "gguf_facts",
    "machine",
    "needs_of",
    "refusal",
]

# llama.cpp keeps the KV cache in f16 unless told otherwise: two bytes a value.
KV_BYTES = 2
# llama.cpp's default micro-batch; its logits buffer is vocab x batch x f32.
UBATCH = 512
# A llama_cpp.server process before any model: the interpreter, uvicorn and
# llama.cpp's compute buffers (measured RSS of an idle server, rounded up).
RUNTIME_BYTES = 256 * 1024**2
# What a jar reached over HTTP (ollama, openai without a process) needs here: nothing.
MEMINFO = Path("/proc/meminfo")
GPU_DEVICES = ("/dev/nvidia0", "/dev/kfd", "/dev/dxg")


@dataclass(frozen=True)
class GgufFacts:
    """What a GGUF header says about the model."""

    parameters: int
    quantization: str
    context_length: int
    layers: int
    kv_width: int  # KV heads x head size: the values one token stores per layer, each of K, V
    vocab: int


@dataclass(frozen=True)
class Needs:
    """What a jar needs from the machine that runs it."""

    memory: int
    gpu: bool


@dataclass(frozen=True)
class Machine:
    """What this machine has."""

    memory: int
    gpu: bool


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
             10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


def _read(handle: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("the file ends inside its header")
    return struct.unpack(fmt, data)[0]


def _value(handle: BinaryIO, kind: int) -> Any:
    """One GGUF value; arrays are skipped (None) except for their length."""
    if kind == _STRING:
        return handle.read(_read(handle, "<Q")).decode("utf-8", "replace")
    if kind == _ARRAY:
        item, count = _read(handle, "<I"), _read(handle, "<Q")
        if item == _STRING:
            for _ in range(count):
                handle.seek(_read(handle, "<Q"), os.SEEK_CUR)
        elif item in _SCALARS:
            handle.seek(struct.calcsize(_SCALARS[item]) * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _value(handle, item)
        return count
    if kind not in _SCALARS:
        raise ValueError(f"unknown GGUF value type {kind}")
    return _read(handle, _SCALARS[kind])


@functools.lru_cache(maxsize=8)
def _header(path: Path, mtime: float, size: int) -> tuple[dict[str, Any], int]:
    """The key-value pairs of a GGUF file (arrays by length) and its parameter count.

    Read with ``struct`` rather than ``gguf.GGUFReader``, which builds every
    tokenizer entry as an array and takes seconds: this runs before every start.
    """
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise ValueError("no GGUF magic number")
        version = _read(handle, "<I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is too old")
        tensors, count = _read(handle, "<Q"), _read(handle, "<Q")
        fields: dict[str, Any] = {}
        for _ in range(count):
            key = _value(handle, _STRING)
            fields[key] = _value(handle, _read(handle, "<I"))
        parameters = 0
        for _ in range(tensors):
            _value(handle, _STRING)
            dims = [_read(handle, "<Q") for _ in range(_read(handle, "<I"))]
            handle.seek(4 + 8, os.SEEK_CUR)  # type, offset
            parameters += math.prod(dims)
    return fields, parameters


def gguf_facts(path: Path) -> GgufFacts:
    """Reads the GGUF header of ``path``.

    Raises:
        ManifestError: the file is not a GGUF model.
    """
    import gguf

    try:
        stat = path.stat()
        fields, parameters = _header(path, stat.st_mtime, stat.st_size)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"{path}: not a GGUF model file ({exc}); check spec.model.weights"
        ) from None

    def field(key: str, default: Any = None) -> Any:
        return fields.get(key, default)

    arch = field("general.architecture", "llama")
    heads = int(field(f"{arch}.attention.head_count", 1))
    kv_heads = int(field(f"{arch}.attention.head_count_kv", heads))
    embedding = int(field(f"{arch}.embedding_length", 0))
    head_size = int(field(f"{arch}.attention.key_length", embedding // max(heads, 1)))
    vocab = field(f"{arch}.vocab_size", field("tokenizer.ggml.tokens", 0))
    file_type = field("general.file_type")
    try:
        quantization = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        quantization = str(file_type)
    return GgufFacts(
        parameters=parameters,
        quantization=quantization,
        context_length=int(field(f"{arch}.context_length", 0)),
        layers=int(field(f"{arch}.block_count", 0)),
        kv_width=kv_heads * head_size,
        vocab=int(vocab or 0),
    )


def llamacpp_memory(weights: Path, facts: GgufFacts, *, context_size: int) -> int:
    """Bytes a llama.cpp server needs for these weights at this context size."""
    kv_cache = 2 * facts.layers * context_size * facts.kv_width * KV_BYTES
    logits = facts.vocab * UBATCH * 4
    return weights.stat().st_size + kv_cache + logits + RUNTIME_BYTES


def _override(annotations: dict[str, str], computed: Needs) -> Needs:
    memory, gpu = computed.memory, computed.gpu
    for key in media.MANIFEST_MEMORY_KEYS:
        if key in annotations:
            try:
                memory = parse_size(annotations[key])
            except ValueError as exc:
                raise ManifestError(f"metadata.annotations.{key}: {exc}") from None
    if media.MANIFEST_GPU_KEY in annotations:
        gpu = annotations[media.MANIFEST_GPU_KEY].strip().lower() in ("true", "yes", "1")
    return Needs(memory, gpu)


def needs_of(manifest: Any, *, weights: Path | None) -> Needs:
    """What a loaded ``JarManifest`` needs; ``weights`` is its resolved .gguf (llama-cpp)."""
    model = manifest.spec.model
    memory, gpu = 0, False
    if model.backend == "llama-cpp" and weights is not None:
        memory = llamacpp_memory(weights, gguf_facts(weights), context_size=model.context_size)
        gpu = int(model.parameters.get("n_gpu_layers", 0) or 0) != 0
    elif model.process is not None:
        gpu = any("vllm" in part for part in model.process.command)
    return _override(dict(manifest.metadata.annotations), Needs(memory, gpu))


def needs_from_annotations(annotations: dict[str, str]) -> Needs:
    """What an image's annotations say it needs."""
    return Needs(
        int(annotations.get(media.MEMORY, "0") or 0),
        annotations.get(media.GPU, "false") == "true",
    )


def machine() -> Machine:
    """Free memory (MemAvailable) and whether a GPU device is present."""
    available = 0
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except OSError:
        pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        available = pages * size
    return Machine(available, any(os.path.exists(d) for d in GPU_DEVICES))


def fits(needs: Needs, here: Machine) -> bool:
    """Whether a jar with ``needs`` can start on ``here``."""
    return needs.memory <= here.memory and (here.gpu or not needs.gpu)


def human(size: int) -> str:
    """``1.2 GiB``-style sizes for messages and tables."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def refusal(name: str, needs: Needs, here: Machine) -> str | None:
    """The message that refuses to start ``name`` here, or ``None`` when it fits."""
    if fits(needs, here):
        return None
    wanted = f"{human(needs.memory)} of memory" + (" and a GPU" if needs.gpu else "")
    has = f"{human(here.memory)} free" + (" and a GPU" if here.gpu else " and no GPU")
    return (
        f"jar {name} does not fit this machine: it needs {wanted}, this machine has {has}; "
        "free memory, run it elsewhere, or pass --force to start it anyway"
    )


def read_image_info(folder: Path) -> dict[str, str] | None:
    """The annotations of the image an unpacked folder came from, if it came from one."""
    from ._store import IMAGE_INFO

    try:
        info = json.loads((folder / IMAGE_INFO).read_text())
    except (OSError, ValueError):
        return None
    annotations: dict[str, str] = info.get("annotations", {})
    return annotations


def check_fits(manifest: Any, *, manifest_path: Path) -> None:
    """Refuses a jar whose model process would not fit this machine.

    An unpacked image is judged by its annotations; a manifest path by what is
    computed from it. A jar that starts no model process (it only reaches one)
    always fits.

    Raises:
        ManifestError: it does not fit; the message says what it needs, what the
            machine has, and ``--force``.
    """
    model = manifest.spec.model
    if model.backend != "llama-cpp" and model.process is None:
        return
    annotations = read_image_info(manifest_path.parent)
    if annotations is not None:
        needs = _override(dict(manifest.metadata.annotations), needs_from_annotations(annotations))
    else:
        from brainjar.models._llamacpp import resolve_weights

        weights = None
        if model.backend == "llama-cpp" and model.weights is not None:
            weights = resolve_weights(model.weights, base_dir=manifest_path.parent.resolve())
        needs = needs_of(manifest, weights=weights)
    message = refusal(manifest.metadata.name, needs, machine())
    if message is not None:
        raise ManifestError(message)
