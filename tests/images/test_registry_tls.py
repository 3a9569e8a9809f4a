"""Jar images through a real registry over HTTPS with a private CA (``--ca``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, blobs, brainjar, registry, small_jar
from tls_support import write_self_signed

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, Path]]:
    folder = tmp_path_factory.mktemp("registry")
    cert, key = write_self_signed(folder)
    with registry(folder, tls=(cert, key)) as running:
        yield running, cert


def test_push_and_pull_over_https_trust_the_ca_given(
    secure: tuple[Registry, Path], tmp_path: Path
) -> None:
    running, ca = secure
    manifest = small_jar(tmp_path)
    source, store = tmp_path / "source", tmp_path / "images"
    ref = f"{running.address}/jars/small:1"
    assert brainjar("build", str(manifest), "-t", ref, store=source).returncode == 0

    untrusted = brainjar("push", ref, store=source)
    assert untrusted.returncode == 1
    assert "cannot reach the registry" in untrusted.stderr and "--ca" in untrusted.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr
    assert "Traceback" not in untrusted.stderr

    pushed = brainjar("push", "--ca", str(ca), ref, store=source)
    assert pushed.returncode == 0, pushed.stderr
    pulled = brainjar("pull", "--ca", str(ca), ref, store=store)
    assert pulled.returncode == 0, pulled.stderr
    assert blobs(store) == blobs(source)


@pytest.mark.parametrize("command", ["pull", "login"])
def test_insecure_is_not_a_way_around_tls_off_loopback(command: str, tmp_path: Path) -> None:
    target = "registry.example.com" + ("/jars/small:1" if command == "pull" else "")
    extra = ["-u", "clerk", "--password-stdin"] if command == "login" else []
    refused = brainjar(command, "--insecure", target, *extra, store=tmp_path, stdin="pw\n")
    assert refused.returncode == 2, refused.stderr  # a usage error, before any connection
    assert "only for registries on this machine's loopback" in refused.stderr
