"""Image references as users write them, and what a name that is neither file nor image gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_support import brainjar

from brainjar._errors import ManifestError
from brainjar.image import looks_like_reference, parse_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("hello:1", None, "hello", "1", None),
        ("hello", None, "hello", None, None),
        ("jars/hello", None, "jars/hello", None, None),
        ("127.0.0.1:5000/jars/hello:1", "127.0.0.1:5000", "jars/hello", "1", None),
        ("localhost/jars/hello", "localhost", "jars/hello", None, None),
        (f"reg.example.com/jars/hello@{DIGEST}", "reg.example.com", "jars/hello", None, DIGEST),
    ],
)
def test_references_parse(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry, repository, tag, digest,
    )  # fmt: skip
    assert str(parse_reference(str(ref))) == str(ref)


@pytest.mark.parametrize("text", ["Hello:1", "a//b", ":1", "x@sha256:12", "hello:1:2"])
def test_not_references(text: str) -> None:
    with pytest.raises(ManifestError, match="not an image reference"):
        parse_reference(text)


def test_a_yaml_name_stays_a_path() -> None:
    assert not looks_like_reference("manifests/missing.yaml")
    assert looks_like_reference("jars/hello:1")


def test_a_name_neither_file_nor_image_is_a_usage_error(tmp_path: Path) -> None:
    missing = brainjar("tools", "nosuch:1", store=tmp_path / "images")
    assert missing.returncode == 2
    assert "neither a file nor an image in the local store" in missing.stderr
