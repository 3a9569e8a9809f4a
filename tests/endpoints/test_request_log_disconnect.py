"""The request log (``brainjar run --json``) says ``disconnected`` only for a client that left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from endpoint_helpers import Gate, served

from brainjar.testing import call, reply

CHAT = {"model": "adder", "messages": [{"role": "user", "content": "2 + 3?"}]}
# How long a request's record may take to reach the log once the request ended.
RECORD_WAIT = 10.0


class _Log:
    """The request log: its records, and an event set by the first chat record."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.logged = anyio.Event()

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if record["path"] == "/v1/chat/completions":
            self.logged.set()

    async def chat(self) -> dict[str, Any]:
        with anyio.fail_after(RECORD_WAIT):
            await self.logged.wait()
        return next(r for r in self.records if r["path"] == "/v1/chat/completions")


@pytest.mark.parametrize("stream", [True, False])
async def test_an_answered_request_is_not_logged_as_disconnected(
    tmp_path: Path, stream: bool
) -> None:
    log = _Log()
    async with (
        served(tmp_path, log=log) as jar,
        httpx.AsyncClient() as http,
    ):
        answer = await http.post(jar.url + "/chat/completions", json={**CHAT, "stream": stream})
        assert answer.status_code == 200
        record = await log.chat()
    assert record["status"] == 200 and record["stream"] is stream
    assert "disconnected" not in record, record


async def test_a_client_that_drops_mid_stream_is_logged_as_disconnected(tmp_path: Path) -> None:
    log = _Log()
    gate = Gate()
    script = [call("slow"), reply("done")]
    async with (
        served(tmp_path, script, sources=[gate.source()], log=log) as jar,
        httpx.AsyncClient() as http,
    ):
        with anyio.fail_after(RECORD_WAIT):
            async with anyio.create_task_group() as tg:

                async def ask() -> None:
                    body = {**CHAT, "stream": True}
                    async with http.stream("POST", jar.url + "/chat/completions", json=body):
                        await anyio.sleep_forever()

                tg.start_soon(ask)
                await gate.started.wait()
                tg.cancel_scope.cancel()  # the client hangs up while the tool runs
        record = await log.chat()
    assert record["disconnected"] is True, record
