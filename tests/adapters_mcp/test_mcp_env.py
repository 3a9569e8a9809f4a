"""A stdio MCP server's environment: a safe default, plus what the manifest names."""

from __future__ import annotations

import os
import sys

import anyio
import pytest
from brainjar.adapters.mcp import McpServer, McpSource
from mcp_support import TOY_SERVER, tool_named

from brainjar.jar._sources import mcp_server
from brainjar.manifest._models import McpServerConfig

SECRET = "BRAINJAR_TEST_SECRET"
TEST_LIMIT = 60.0


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret in this process's environment, as a user's shell would hold one."""
    monkeypatch.setenv(SECRET, "hunter2")
    monkeypatch.setenv("HOME", os.environ.get("HOME", "/root"))
    return "hunter2"


async def _environment(config: McpServer, *names: str) -> dict[str, str]:
    """The values the server sees for ``names`` (``<unset>`` when it has none)."""
    with anyio.fail_after(TEST_LIMIT):
        async with McpSource(config) as source:
            getenv = tool_named(source, "getenv")
            return {n: (await getenv.call({"name": n})).content for n in names}


def _toy(**options: object) -> McpServer:
    config = McpServerConfig.model_validate(
        {"command": [sys.executable, str(TOY_SERVER)], "timeout": 20, **options}
    )
    return mcp_server(config)  # the manifest's own path to the adapter


async def test_secrets_do_not_reach_a_stdio_server_by_default() -> None:
    seen = await _environment(_toy(env={"GREETING": "hi"}), SECRET, "PATH", "HOME", "GREETING")
    assert seen == {
        SECRET: "<unset>",
        "PATH": os.environ["PATH"],
        "HOME": os.environ["HOME"],
        "GREETING": "hi",
    }


async def test_env_passthrough_passes_named_variables(secret: str) -> None:
    config = _toy(env_passthrough=[SECRET, "BRAINJAR_TEST_NOT_SET"])
    seen = await _environment(config, SECRET, "BRAINJAR_TEST_NOT_SET", "PATH")
    assert seen == {SECRET: secret, "BRAINJAR_TEST_NOT_SET": "<unset>", "PATH": os.environ["PATH"]}


async def test_inherit_env_passes_everything(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAINJAR_TEST_OTHER", "other")
    config = _toy(inherit_env=True, env={"BRAINJAR_TEST_OTHER": "mine"})
    seen = await _environment(config, SECRET, "BRAINJAR_TEST_OTHER")
    assert seen == {SECRET: secret, "BRAINJAR_TEST_OTHER": "mine"}  # env still wins


def test_env_options_need_a_command() -> None:
    with pytest.raises(ValueError, match="env_passthrough and inherit_env set a stdio"):
        McpServerConfig.model_validate({"url": "http://127.0.0.1:1/mcp", "inherit_env": True})
