"""Packaged weights by name: chunked packages assembled into the cache, and their chat template."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from brainjar._errors import ManifestError
from brainjar.models import _packaged
from brainjar.models._llamacpp import known_weights, resolve_weights
from brainjar.models._packaged import GEMMA_TEMPLATE, ChunkedWeights, chat_template_args

# A stand-in for a chunk package's API: assemble(output_path, overwrite) and
# verify_chunks(), counting how often it assembles.
FAKE_PACKAGE = textwrap.dedent(
    """
    from pathlib import Path
    calls = []

    def verify_chunks():
        pass

    def assemble(output_path=None, overwrite=False):
        calls.append(Path(output_path))
        Path(output_path).write_bytes(b"GGUF" + b"x" * 64)
        return Path(output_path)
    """
)


@pytest.fixture
def fake_chunked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = f"fake_chunks_{os.getpid()}"
    (tmp_path / "pkgs").mkdir()
    (tmp_path / "pkgs" / f"{package}.py").write_text(FAKE_PACKAGE)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setenv("BRAINJAR_CACHE_DIR", str(tmp_path / "cache"))
    entry = ChunkedWeights(package=package, file_name="fake.gguf", extra="fake")
    monkeypatch.setitem(_packaged.CHUNKED_WEIGHTS, "fake-1m", entry)
    yield package
    sys.modules.pop(package, None)


def test_chunked_weights_are_assembled_once_into_the_cache(
    fake_chunked: str, tmp_path: Path
) -> None:
    first = resolve_weights("fake-1m", base_dir=tmp_path)
    assert first == tmp_path / "cache" / "weights" / "fake.gguf"
    assert first.read_bytes().startswith(b"GGUF")
    second = resolve_weights("FAKE-1m", base_dir=tmp_path)
    assert second == first
    calls = sys.modules[fake_chunked].calls
    assert len(calls) == 1 and calls[0].parent == first.parent and calls[0] != first
    assert sorted(p.name for p in first.parent.iterdir()) == ["fake.gguf"]  # no temp left


def test_a_missing_chunk_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINJAR_CACHE_DIR", str(tmp_path / "cache"))
    entry = ChunkedWeights(package="no_such_chunks_pkg", file_name="x.gguf", extra="gemma")
    monkeypatch.setitem(_packaged.CHUNKED_WEIGHTS, "gemma3-270m", entry)
    with pytest.raises(ManifestError, match=r"\.\[gemma\]") as caught:
        resolve_weights("gemma3-270m", base_dir=tmp_path)
    assert "no_such_chunks_pkg" in str(caught.value)
    assert not (tmp_path / "cache" / "weights" / "x.gguf").exists()


def test_an_unknown_name_lists_the_known_names(tmp_path: Path) -> None:
    assert {"gemma3-270m", "smollm2-135m"} <= set(known_weights())
    with pytest.raises(ManifestError) as caught:
        resolve_weights("llama-9000", base_dir=tmp_path)
    assert "gemma3-270m" in str(caught.value) and "smollm2-135m" in str(caught.value)


def test_gemma_gets_a_template_that_shows_the_system_prompt_and_tool_results(
    tmp_path: Path,
) -> None:
    from llama_cpp.llama_chat_format import hf_tokenizer_config_to_chat_formatter

    weights = tmp_path / "gemma-3-270m-q4_k_m.gguf"
    weights.write_bytes(b"GGUF")
    args = chat_template_args(weights)
    assert args[:2] == ["--chat_format", "hf-tokenizer-config"]
    assert chat_template_args(tmp_path / "other.gguf") == []
    config = {"chat_template": GEMMA_TEMPLATE, "bos_token": "<bos>", "eos_token": "<end_of_turn>"}
    formatter = hf_tokenizer_config_to_chat_formatter(config)
    messages = [
        {"role": "system", "content": "Tools: list_directory."},
        {"role": "user", "content": 'What is in "sandbox"?'},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "list_directory", "arguments": "{}"},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "name": "list_directory",
            "content": "notes.txt\ntodo.txt",
        },
    ]
    prompt = formatter(messages=messages).prompt
    assert prompt.startswith("<bos><start_of_turn>user\nTools: list_directory.\n\nWhat is in")
    assert '"sandbox"' in prompt  # not escaped into &#34;
    assert '{"name": "list_directory", "arguments": {}}' in prompt
    assert "Tool result (list_directory):\nnotes.txt\ntodo.txt<end_of_turn>" in prompt
    assert prompt.endswith("<start_of_turn>model\n")
