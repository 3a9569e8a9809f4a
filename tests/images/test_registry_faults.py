"""A registry that dies in the middle of a push or a pull: a clear error, a clean store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registry_support import HELLO, blobs, brainjar, dying_on_the_way, registry

pytestmark = pytest.mark.timeout(600)

# Bytes that pass before the registry dies: a few MB into the ~100 MB weights layer.
CUT_AFTER = 4 << 20


def _images(store: Path) -> list[dict[str, object]]:
    listed = brainjar("images", "--json", store=store)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_a_registry_that_dies_mid_pull_leaves_nothing_in_the_store(tmp_path: Path) -> None:
    source, store = tmp_path / "source", tmp_path / "images"
    with registry(tmp_path / "registry") as running:
        ref = f"{running.address}/jars/hello:1"
        assert brainjar("build", str(HELLO), "-t", ref, store=source).returncode == 0
        pushed = brainjar("push", "--insecure", ref, store=source)
        assert pushed.returncode == 0, pushed.stderr
        with dying_on_the_way(running, upload=False, after=CUT_AFTER) as address:
            pulled = brainjar("pull", "--insecure", f"{address}/jars/hello:1", store=store)
        assert running.process.poll() is not None  # it really died on the way
    assert pulled.returncode == 1, pulled.stdout + pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert "hello:1" in pulled.stderr and "check that the registry runs" in pulled.stderr
    assert blobs(store) == set()  # not the config that came first, no partial weights
    assert _images(store) == []


def test_a_registry_that_dies_mid_push_is_reported_and_the_store_is_untouched(
    tmp_path: Path,
) -> None:
    store = tmp_path / "images"
    with (
        registry(tmp_path / "registry") as running,
        dying_on_the_way(running, upload=True, after=CUT_AFTER) as address,
    ):
        ref = f"{address}/jars/hello:1"
        assert brainjar("build", str(HELLO), "-t", ref, store=store).returncode == 0
        before, listed = blobs(store), _images(store)
        pushed = brainjar("push", "--insecure", ref, store=store)
        assert running.process.poll() is not None
    assert pushed.returncode == 1, pushed.stdout + pushed.stderr
    assert "Traceback" not in pushed.stderr
    assert "hello:1" in pushed.stderr and "check that the registry runs" in pushed.stderr
    assert blobs(store) == before and _images(store) == listed
