"""Jar images through a real registry with bearer-token auth and a token server beside it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, blobs, brainjar, registry, small_jar
from token_support import TokenServer, registry_auth, token_server

pytestmark = pytest.mark.timeout(300)

USER = ("clerk", "t0ken-pass")


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    with token_server(tmp_path_factory.mktemp("tokens"), USER) as running:
        yield running


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, tokens: TokenServer) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry"), auth=registry_auth(tokens)) as running:
        yield running


def test_an_anonymous_token_cannot_push(guarded: Registry, tmp_path: Path) -> None:
    store, home = tmp_path / "images", tmp_path / "home"
    home.mkdir()
    ref = f"{guarded.address}/jars/small:1"
    assert brainjar("build", str(small_jar(tmp_path)), "-t", ref, store=store).returncode == 0
    pushed = brainjar("push", "--insecure", ref, store=store, home=home)
    assert pushed.returncode == 1, pushed.stdout
    assert "401" in pushed.stderr and "brainjar login" in pushed.stderr, pushed.stderr
    assert "Traceback" not in pushed.stderr


def test_login_asks_the_token_server_and_saves_nothing_when_refused(
    guarded: Registry, tokens: TokenServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    login = brainjar(
        "login", "--insecure", guarded.address, "-u", USER[0], "--password-stdin",
        store=tmp_path / "images", home=home, stdin="wrong-pass\n",
    )  # fmt: skip
    assert login.returncode == 1, login.stderr
    assert "refused" in login.stderr and guarded.address in login.stderr
    assert "Traceback" not in login.stderr and "wrong-pass" not in login.stderr
    assert not (home / ".docker" / "config.json").exists()


def test_login_then_push_and_pull_with_tokens(
    guarded: Registry, tokens: TokenServer, tmp_path: Path
) -> None:
    source, store, home = tmp_path / "source", tmp_path / "images", tmp_path / "home"
    home.mkdir()
    ref = f"{guarded.address}/jars/small:2"
    assert brainjar("build", str(small_jar(tmp_path)), "-t", ref, store=source).returncode == 0
    issued = len(tokens.issued)
    login = brainjar(
        "login", "--insecure", guarded.address, "-u", USER[0], "--password-stdin",
        store=source, home=home, stdin=USER[1] + "\n",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    assert len(tokens.issued) > issued  # login asked the token server, not just /v2/
    saved = json.loads((home / ".docker" / "config.json").read_text())
    assert guarded.address in saved["auths"]

    pushed = brainjar("push", "--insecure", ref, store=source, home=home)
    assert pushed.returncode == 0, pushed.stderr
    pulled = brainjar("pull", "--insecure", ref, store=store, home=home)
    assert pulled.returncode == 0, pulled.stderr
    assert blobs(store) == blobs(source)
    # The registry names the actions in either order ("pull,push" or "push,pull").
    granted = [
        (a["type"], a["name"], sorted(a["actions"]))
        for claims in tokens.issued
        for a in claims["access"]  # type: ignore[attr-defined]
    ]
    assert ("repository", "jars/small", ["pull", "push"]) in granted
