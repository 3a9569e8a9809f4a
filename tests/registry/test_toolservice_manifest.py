"""The ToolService kind: loaded by the same loader, with the same quality of errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainjar._errors import ManifestError
from brainjar.manifest._toolservice import ToolServiceManifest
from brainjar.serve._toolservice import load_tool_service

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_manifest_loads() -> None:
    manifest = load_tool_service(ROOT / "manifests" / "tools-service.yaml")
    assert isinstance(manifest, ToolServiceManifest)
    assert manifest.spec.token is None  # ${TOOLS_TOKEN:-}: no token
    assert manifest.spec.limits.call_timeout == 30.0
    assert manifest.metadata.labels == {"team": "docs"}


def test_errors_name_the_line_and_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: brainjar.dev/v1\n"
        "kind: ToolService\n"
        "metadata: {name: bad}\n"
        "spec:\n"
        "  tools:\n"
        "    - discover: {selector: {a: b}}\n"
        "  grpc: {prot: 1}\n"
        "  token: ${NO_SUCH_TOKEN_VAR}\n"
    )
    with pytest.raises(ManifestError) as info:
        load_tool_service(path)
    assert "bad.yaml:8:10: environment variable NO_SUCH_TOKEN_VAR is not set" in str(info.value)
    path.write_text(path.read_text().replace("${NO_SUCH_TOKEN_VAR}", "t"))
    with pytest.raises(ManifestError) as info:
        load_tool_service(path)
    text = str(info.value)
    assert "bad.yaml:7:" in text and "did you mean 'port'" in text
    assert "cannot serve discovered tools" in text


def test_a_jar_is_not_a_tool_service() -> None:
    with pytest.raises(ManifestError, match="not a ToolService"):
        load_tool_service(ROOT / "manifests" / "hello.yaml")
