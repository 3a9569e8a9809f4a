"""Building jar images into a local store, and refusing a jar that does not fit (no registry)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from registry_support import HELLO, blobs, brainjar

from brainjar._errors import ManifestError
from brainjar.image import Store, build_image, parse_reference
from brainjar.image._media import (
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MEMORY,
    PARAMETERS,
    QUANTIZATION,
    WEIGHT_MEDIA_TYPE,
)

JAR = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata:
  name: clerk
  annotations: {ANNOTATIONS}
spec:
  model: {backend: llama-cpp, weights: smollm2-135m, context_size: 4096}
  tools:
    - langchain: clerk_tools:tools
    - langchain: langchain_community.agent_toolkits:FileManagementToolkit
      with: {root_dir: ./sandbox}
    - mcp: {command: [python, ./servers/time_server.py], env: {TOKEN: "${CLERK_TOKEN:-none}"}}
"""


def _jar(folder: Path, annotations: str = "{}") -> Path:
    (folder / "sandbox").mkdir(parents=True)
    (folder / "sandbox" / "notes.txt").write_text("hello\n")
    (folder / "sandbox" / "secret.key").write_text("do not pack\n")
    (folder / "servers").mkdir()
    (folder / "servers" / "time_server.py").write_text("print('time')\n")
    (folder / "clerk_tools.py").write_text("tools = []\n")
    (folder / "unrelated.txt").write_text("not needed\n")
    (folder / ".brainjarignore").write_text("*.key\n")
    manifest = folder / "clerk.yaml"
    manifest.write_text(JAR.replace("{ANNOTATIONS}", annotations))
    return manifest


def test_build_packs_what_the_jar_needs_reproducibly(tmp_path: Path) -> None:
    store = Store(tmp_path / "images")
    manifest = _jar(tmp_path / "jar")
    first = build_image(manifest, parse_reference("clerk:1"), store=store)
    (tmp_path / "jar" / "unrelated.txt").write_text("changed, and not packed\n")
    again = build_image(manifest, parse_reference("clerk:2"), store=store)
    assert again.digest == first.digest  # same inputs, same bytes, same digests

    image = store.read_json(first.digest)
    assert image["artifactType"] == image["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    files, weights = image["layers"]
    assert (files["mediaType"], weights["mediaType"]) == (LAYER_MEDIA_TYPE, WEIGHT_MEDIA_TYPE)
    with tarfile.open(store.blob_path(files["digest"])) as archive:
        names = archive.getnames()
        assert {m.mtime for m in archive.getmembers()} == {0}
        packed = archive.extractfile("brainjar.yaml").read().decode()  # type: ignore[union-attr]
    assert names == sorted(names) == [
        "brainjar.yaml", "clerk_tools.py", "sandbox/notes.txt", "servers/time_server.py",
    ]  # fmt: skip
    assert "weights: ./weights/SmolLM2-135M-Instruct.Q4_1.gguf" in packed
    assert "${CLERK_TOKEN:-none}" in packed  # variables are read where the image runs

    notes = image["annotations"]
    assert notes[PARAMETERS] == "134515008" and notes[QUANTIZATION] == "Q4_1"
    kv_cache = 2 * 30 * 4096 * 3 * 64 * 2  # K and V, 30 layers, 3 KV heads of 64, f16
    assert int(notes[MEMORY]) > weights["size"] + kv_cache
    assert (tmp_path / "images" / "oci-layout").is_file()
    index = json.loads((tmp_path / "images" / "index.json").read_text())
    assert len(index["manifests"]) == 2


def test_weights_are_stored_once_and_rmi_collects_garbage(tmp_path: Path) -> None:
    store = tmp_path / "images"
    one = _jar(tmp_path / "one")
    two = _jar(tmp_path / "two", annotations="{brainjar.dev/memory: 1Gi}")
    assert brainjar("build", str(one), "-t", "one:1", store=store).returncode == 0
    assert brainjar("build", str(HELLO), "-t", "hello:1", store=store).returncode == 0
    assert brainjar("build", str(two), "-t", "two:1", store=store).returncode == 0
    weights = [p for p in (store / "blobs" / "sha256").iterdir() if p.stat().st_size > 90_000_000]
    assert len(weights) == 1
    listed = {i["ref"]: i for i in json.loads(brainjar("images", "--json", store=store).stdout)}
    assert listed["two:1"]["memory"] == 1024**3  # the manifest's annotation wins

    assert brainjar("rmi", "one:1", "hello:1", store=store).returncode == 0
    assert weights[0].exists()  # two:1 still uses it
    assert brainjar("rmi", "two:1", store=store).returncode == 0
    assert blobs(store) == set()


@pytest.mark.parametrize(
    ("annotations", "needs"),
    [
        ("{brainjar.dev/memory: 64000Gi}", "62.5 TiB of memory"),
        ('{brainjar.dev/gpu: "true"}', "GPU"),
    ],
)
def test_a_jar_that_does_not_fit_is_refused_before_its_model_starts(
    tmp_path: Path, annotations: str, needs: str
) -> None:
    manifest = _jar(tmp_path / "jar", annotations=annotations)
    store = tmp_path / "images"
    run = brainjar("run", str(manifest), "hi", store=store)
    assert run.returncode == 2
    assert needs in run.stderr and "--force" in run.stderr and "free" in run.stderr
    assert brainjar("build", str(manifest), "-t", "big:1", store=store).returncode == 0
    by_ref = brainjar("run", "big:1", "hi", store=store)
    assert by_ref.returncode == 2 and needs in by_ref.stderr
    listed = json.loads(brainjar("images", "--json", store=store).stdout)
    assert listed[0]["fits"] is False


def test_a_relative_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    manifest = tmp_path / "jar" / "out.yaml"
    manifest.parent.mkdir()
    manifest.write_text(
        "apiVersion: brainjar.dev/v1\nkind: Jar\nmetadata: {name: out}\n"
        "spec:\n  model: {backend: openai, name: m, endpoint: 'http://127.0.0.1:9/v1'}\n"
        "  tools:\n    - langchain: langchain_community.agent_toolkits:FileManagementToolkit\n"
        "      with: {root_dir: ../elsewhere}\n"
        "    - mcp: {command: [/usr/bin/env, python3, ./server.py]}\n"
    )
    (manifest.parent / "server.py").write_text("print('hi')\n")
    with pytest.raises(ManifestError, match=r"with\.root_dir needs .*outside the jar's folder"):
        build_image(manifest, parse_reference("out:1"), store=Store(tmp_path / "images"))
    manifest.write_text(manifest.read_text().replace("../elsewhere", "/tmp"))
    built = build_image(manifest, parse_reference("out:1"), store=Store(tmp_path / "images"))
    files = Store(tmp_path / "images").read_json(built.digest)["layers"][0]
    with tarfile.open(Store(tmp_path / "images").blob_path(files["digest"])) as archive:
        assert archive.getnames() == [
            "brainjar.yaml",
            "server.py",
        ]  # /tmp, /usr/bin/env: not packed
