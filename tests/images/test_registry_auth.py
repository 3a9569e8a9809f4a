"""Jar images through a real registry with htpasswd basic auth: refused without, works with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, blobs, brainjar, registry, small_jar

pytestmark = pytest.mark.timeout(300)

USER = ("clerk", "s3cret-pass")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry"), htpasswd=USER) as running:
        yield running


def test_push_without_credentials_is_refused(guarded: Registry, tmp_path: Path) -> None:
    store, home = tmp_path / "images", tmp_path / "home"
    home.mkdir()
    ref = f"{guarded.address}/jars/small:1"
    assert brainjar("build", str(small_jar(tmp_path)), "-t", ref, store=store).returncode == 0
    pushed = brainjar("push", "--insecure", ref, store=store, home=home)
    assert pushed.returncode == 1
    assert "brainjar login" in pushed.stderr and "Traceback" not in pushed.stderr

    wrong = home / ".docker" / "config.json"
    wrong.parent.mkdir()
    wrong.write_text(json.dumps({"auths": {guarded.address: {"auth": "Y2xlcms6bm9wZQ=="}}}))
    pushed = brainjar("push", "--insecure", ref, store=store, home=home)
    assert pushed.returncode == 1 and "401" in pushed.stderr, pushed.stderr
    assert "brainjar login" in pushed.stderr


def test_login_then_push_and_pull(guarded: Registry, tmp_path: Path) -> None:
    source, store, home = tmp_path / "source", tmp_path / "images", tmp_path / "home"
    home.mkdir()
    ref = f"{guarded.address}/jars/small:2"
    assert brainjar("build", str(small_jar(tmp_path)), "-t", ref, store=source).returncode == 0
    login = brainjar(
        "login", "--insecure", guarded.address, "-u", USER[0], "--password-stdin",
        store=source, home=home, stdin=USER[1] + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    pushed = brainjar("push", "--insecure", ref, store=source, home=home)
    assert pushed.returncode == 0, pushed.stderr
    pulled = brainjar("pull", "--insecure", ref, store=store, home=home)
    assert pulled.returncode == 0, pulled.stderr
    assert blobs(store) == blobs(source)


def test_login_checks_the_password_and_saves_nothing_when_wrong(
    guarded: Registry, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    login = brainjar(
        "login", "--insecure", guarded.address, "-u", USER[0], "--password-stdin",
        store=tmp_path / "images", home=home, stdin="wrong-pass\n",
    )  # fmt: skip
    assert login.returncode == 1, login.stderr
    assert "refused" in login.stderr and guarded.address in login.stderr
    assert "Traceback" not in login.stderr
    assert not (home / ".docker" / "config.json").exists()
