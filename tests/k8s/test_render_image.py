"""`brainjar render k8s REF`: a jar image in the local store (``brainjar build``) renders as
its manifest does, from the manifest and files unpacked from the image."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from brainjar.cli import app
from brainjar.image import build_image, default_store, parse_reference

ROOT = Path(__file__).resolve().parents[2]


def test_an_image_reference_renders_from_the_unpacked_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINJAR_IMAGES", str(tmp_path / "store"))
    build_image(ROOT / "manifests/ollama.yaml", parse_reference("clerk:1"), store=default_store())
    result = CliRunner().invoke(app, ["render", "k8s", "clerk:1", "--image", "brainjar:test"])
    assert result.exit_code == 0, result.output
    objects = list(YAML(typ="safe").load_all(io.StringIO(result.stdout)))
    assert [o["kind"] for o in objects] == ["Model", "ConfigMap", "Deployment", "Service"]
    config = objects[1]["data"]
    assert any("Buy milk." in text for text in config.values())  # the image's sandbox files
    assert objects[2]["metadata"]["name"] == "ollama-clerk"


def test_an_unknown_reference_is_a_clear_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRAINJAR_IMAGES", str(tmp_path / "store"))
    result = CliRunner().invoke(app, ["render", "k8s", "nothing-here:1"])
    assert result.exit_code == 2  # a mistake in the command, like a missing manifest
    assert "neither a file nor an image in the local store" in result.stderr
