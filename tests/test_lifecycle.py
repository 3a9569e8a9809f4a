"""A served jar's life: it drains on SIGTERM and SIGINT, says whether its model is
ready, waits for a model process that restarts, and says so when it gave up.

Real processes throughout: `brainjar run` as a user runs it, and a supervised
model process that is the scripted model (tests/supervisor_fixtures/scripted_model.py).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from model_process_support import model_pids, scripted_model_manifest
from process_support import ended

from brainjar import ModelError
from brainjar.jar._jar import Jar
from brainjar.testing import ScriptedModelServer, call, reply

FIXTURES = Path(__file__).parent / "supervisor_fixtures"
# Starting Python, the jar, its model process and uvicorn; generous for a loaded machine.
LIMIT = 60.0
POLL = 0.02
CHAT = {"model": "phoenix", "messages": [{"role": "user", "content": "are you there?"}]}

WAITING_TOOLS = '''\
"""A tool that holds its conversation in flight until the test releases it."""

import time
from pathlib import Path

from langchain_core.tools import tool

HERE = Path(__file__).parent
LIMIT = 60.0


@tool
def wait_for_release() -> str:
    """Waits until the test lets it go."""
    (HERE / "started").touch()
    deadline = time.monotonic() + LIMIT
    while not (HERE / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"
'''


async def _until(condition: Callable[[], Any], *, limit: float = LIMIT) -> None:
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - a file or a process state has no event
            await anyio.sleep(POLL)


async def _until_async(condition: Callable[[], Any], *, limit: float = LIMIT) -> None:
    with anyio.fail_after(limit):
        while not await condition():  # noqa: ASYNC110 - an HTTP probe has no event
            await anyio.sleep(POLL)


class Served:
    """`brainjar run --json` serving a manifest: its process and its JSON lines."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        self.stdout = BufferedByteReceiveStream(process.stdout)
        self.url = ""

    async def event(self, kind: str) -> dict[str, Any]:
        """The next JSON line of type ``kind`` (request lines and others are skipped)."""
        with anyio.fail_after(LIMIT):
            while True:
                line = json.loads(await self.stdout.receive_until(b"\n", 1 << 20))
                if line["type"] == kind:
                    return dict(line)

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")


@asynccontextmanager
async def _brainjar_run(manifest: Path, *args: str) -> AsyncIterator[Served]:
    command = [sys.executable, "-m", "brainjar", "run", str(manifest), "--json", *args]
    stderr = (manifest.parent / "stderr.txt").open("wb")
    process = await anyio.open_process(
        command,
        stdin=None,
        stderr=stderr,
        env={**os.environ, "XDG_STATE_HOME": str(manifest.parent)},
    )
    served = Served(process)
    try:
        served.url = (await served.event("listening"))["url"]
        yield served
    finally:
        await ended(process)
        stderr.close()


def _model_manifest(tmp_path: Path, *, max_restarts: int = 5, **fixture: str) -> Path:
    """A jar whose model process is the scripted model, run by the fixture."""
    process = {"max_restarts": max_restarts, "stop_grace": 2}
    return scripted_model_manifest(tmp_path, limit=LIMIT, process=process, fixture=fixture)


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
async def test_a_signal_drains_conversations_in_flight_then_stops(
    tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    (tmp_path / "waiting_tools.py").write_text(WAITING_TOOLS)
    script = [call("wait_for_release", {}), reply("All done.")]
    async with ScriptedModelServer(script) as model:
        manifest = tmp_path / "jar.yaml"
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: Jar
                metadata: {{name: phoenix}}
                spec:
                  model: {{backend: openai, endpoint: "{model.openai_base_url}", name: scripted}}
                  tools:
                    - langchain: waiting_tools:wait_for_release
                  endpoints:
                    - openai: {{port: 0}}
                  loop: {{transcripts: false}}
            """)
        )
        async with (
            _brainjar_run(manifest, "--grace", str(LIMIT)) as jar,
            httpx.AsyncClient(base_url=jar.url, timeout=LIMIT, trust_env=False) as http,
            anyio.create_task_group() as tg,
        ):
            answers: list[httpx.Response] = []

            async def ask() -> None:
                answers.append(await http.post("/chat/completions", json=CHAT))

            tg.start_soon(ask)
            await _until((tmp_path / "started").exists)  # the conversation is in flight
            jar.process.send_signal(stop)
            assert (await jar.event("draining"))["signal"] == stop.name

            ready = await http.get(jar.root + "/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "draining" and ready.json()["running"] == 1
            refused = await http.post("/chat/completions", json=CHAT)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "shutting_down"
            assert "shutting down" in refused.json()["error"]["message"]

            (tmp_path / "release").touch()
            await jar.event("stopped")
            with anyio.fail_after(LIMIT):
                assert await jar.process.wait() == status
        assert answers[0].status_code == 200
        assert answers[0].json()["choices"][0]["message"]["content"] == "All done."


async def test_readyz_follows_a_model_process_that_restarts(tmp_path: Path) -> None:
    go = tmp_path / "go"
    manifest = _model_manifest(tmp_path, hold_from_run="2", go_file=str(go))
    async with (
        _brainjar_run(manifest) as jar,
        httpx.AsyncClient(base_url=jar.url, timeout=LIMIT, trust_env=False) as http,
        anyio.create_task_group() as tg,
    ):
        ready = await http.get(jar.root + "/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        os.kill(model_pids(tmp_path)[0], signal.SIGKILL)

        async def not_ready() -> bool:
            return (await http.get(jar.root + "/readyz")).status_code == 503

        await _until_async(not_ready)
        down = (await http.get(jar.root + "/readyz")).json()
        assert down["status"] in ("restarting", "starting")
        assert "the model process is" in down["reason"]
        assert (await http.get(jar.root + "/healthz")).status_code == 200  # it will be back
        scraped = (await http.get(jar.root + "/metrics")).text
        assert 'brainjar_model_process_state{state="ready"} 0.0' in scraped

        answers: list[httpx.Response] = []

        async def ask() -> None:  # while the model is down: waits for it
            answers.append(await http.post("/chat/completions", json=CHAT))

        tg.start_soon(ask)
        await _until(lambda: len(model_pids(tmp_path)) == 2)  # the restart is held
        go.touch()

        async def ready_again() -> bool:
            return (await http.get(jar.root + "/readyz")).status_code == 200

        await _until_async(ready_again)
        await _until(lambda: answers)
        scraped = (await http.get(jar.root + "/metrics")).text
        assert "brainjar_model_process_restarts_total 1.0" in scraped
        assert 'brainjar_model_process_state{state="ready"} 1.0' in scraped
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["choices"][0]["message"]["content"] == "I am here."


async def test_health_fails_once_the_supervisor_gives_up(tmp_path: Path) -> None:
    manifest = _model_manifest(tmp_path, max_restarts=1, crash_from_run="2")
    async with (
        _brainjar_run(manifest) as jar,
        httpx.AsyncClient(base_url=jar.url, timeout=LIMIT, trust_env=False) as http,
    ):
        assert (await http.get(jar.root + "/healthz")).status_code == 200
        os.kill(model_pids(tmp_path)[0], signal.SIGKILL)

        async def unhealthy() -> bool:
            return (await http.get(jar.root + "/healthz")).status_code == 503

        await _until_async(unhealthy)
        health = (await http.get(jar.root + "/healthz")).json()
        assert health["status"] == "failed"
        assert "gave up" in health["error"] and "crash loop" in health["error"]
        ready = await http.get(jar.root + "/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        answer = await http.post("/chat/completions", json=CHAT)
        assert answer.status_code == 502
        message = answer.json()["error"]["message"]
        assert "the model process is failed" in message and "crash loop" in message
        assert "crashing on start number 2" not in message  # its log stays local (secrets)


async def test_a_question_right_after_a_crash_waits_for_the_restart(tmp_path: Path) -> None:
    """Asked as the model dies, a question waits for the restart instead of failing."""
    go = tmp_path / "go"
    manifest = _model_manifest(tmp_path, hold_from_run="2", go_file=str(go))
    async with Jar.load(manifest, log=lambda _: None) as jar, anyio.create_task_group() as tg:
        assert str(await jar.ask("first?")) == "I am here."
        outcome: list[object] = []

        async def ask() -> None:
            try:
                outcome.append(str(await jar.ask("still there?")))
            except ModelError as exc:
                outcome.append(exc)

        os.kill(model_pids(tmp_path)[0], signal.SIGKILL)
        tg.start_soon(ask)
        # The restart is held until the question waits for it (or has failed).
        await _until(lambda: outcome or getattr(jar.client, "waiting", 0))
        assert not outcome, outcome
        assert jar.model_status().state == "restarting"
        assert "exited with code" in jar.model_status().reason
        go.touch()
        await _until(lambda: outcome)
    assert outcome == ["I am here."]


async def test_model_status_says_when_the_supervisor_gave_up(tmp_path: Path) -> None:
    manifest = _model_manifest(tmp_path, max_restarts=1, crash_from_run="2")
    async with Jar.load(manifest, log=lambda _: None) as jar:
        assert jar.model_status().ready
        os.kill(model_pids(tmp_path)[0], signal.SIGKILL)
        await _until(lambda: jar.model_status().state == "failed")
        assert "crash loop" in jar.model_status().reason
        with anyio.fail_after(LIMIT), pytest.raises(ModelError) as caught:
            await jar.ask("anyone?")
    message = str(caught.value)
    assert "the model process is failed" in message and "brainjar gave up" in message
