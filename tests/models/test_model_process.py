"""A model served by a process brainjar supervises: here the scripted model server
itself, run as `python -m brainjar.testing` on the port brainjar gives it."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest

from brainjar import ModelError
from brainjar.jar._jar import Jar
from brainjar.manifest._models import JarManifest


def jar(tmp_path: Path, restart: str) -> Jar:
    script = tmp_path / "script.yaml"
    script.write_text('- reply: "hello from a supervised model"\n')
    manifest = JarManifest.model_validate(
        {
            "apiVersion": "brainjar.dev/v1",
            "kind": "Jar",
            "metadata": {"name": "supervised"},
            "spec": {
                "model": {
                    "backend": "openai",
                    "name": "scripted",
                    "process": {
                        "command": [
                            sys.executable,
                            "-m",
                            "brainjar.testing",
                            str(script),
                            "--port",
                            "{port}",
                            "--repeat",
                        ],
                        "ready": {"http": "/v1/models", "timeout": "60s"},
                        "restart": restart,
                        "stop_grace": "2s",
                    },
                },
                "loop": {"transcripts": False},
            },
        }
    )
    return Jar(manifest, base_dir=tmp_path, log=lambda line: None)


def kill_model(j: Jar) -> None:
    process = j.client.process  # type: ignore[attr-defined]
    assert process.pid is not None
    os.killpg(process.pid, signal.SIGKILL)


async def test_a_dead_model_process_gives_a_clear_error(tmp_path: Path) -> None:
    async with jar(tmp_path, "never") as j:
        assert str(await j.ask("hi")) == "hello from a supervised model"
        kill_model(j)
        process = j.client.process  # type: ignore[attr-defined]
        with anyio.fail_after(30):
            version = process.version
            while process.state != "failed":
                version = await process.wait_changed(version)
        with pytest.raises(ModelError, match="the model process is failed"):
            await j.ask("still there?")


async def test_a_crashed_model_process_is_restarted(tmp_path: Path) -> None:
    async with jar(tmp_path, "on-failure") as j:
        kill_model(j)
        process = j.client.process  # type: ignore[attr-defined]
        with anyio.fail_after(60):
            version = process.version
            while not (process.restarts >= 1 and process.state == "ready"):
                version = await process.wait_changed(version)
        assert str(await j.ask("hi again")) == "hello from a supervised model"
