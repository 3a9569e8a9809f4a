"""`brainjar run --workers N`: N processes serve one jar's endpoints over one model process.

Real processes: `brainjar run` as a user runs it, its workers, and a supervised
model process that is the scripted model (tests/supervisor_fixtures/scripted_model.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from model_process_support import gone, model_pids, scripted_model_manifest
from process_support import ended
from prometheus_client.parser import text_string_to_metric_families

from brainjar._worker import share

# Starting Python, the parent, its model process and two workers; generous for a loaded machine.
LIMIT = 90.0
REQUESTS = 40
# Scrapes of /metrics, each on a new connection: all on one worker has odds of 2 in 65,536.
SCRAPES = 16
CHAT = {"model": "many", "messages": [{"role": "user", "content": "are you there?"}]}


def _manifest(tmp_path: Path, endpoints: str) -> Path:
    return scripted_model_manifest(tmp_path, name="many", endpoints=endpoints, limit=LIMIT)


async def test_workers_share_the_port_the_limits_and_one_model_process(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "- openai: {port: 0, max_concurrency: 4}\n")
    command = [sys.executable, "-m", "brainjar", "run", str(manifest), "--json", "--workers", "2"]
    stderr = (tmp_path / "stderr.txt").open("wb")
    process = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    lines = BufferedByteReceiveStream(process.stdout)

    async def next_event() -> dict[str, Any]:
        return dict(json.loads(await lines.receive_until(b"\n", 1 << 20)))

    try:
        with anyio.fail_after(LIMIT):
            listening = await next_event()
        assert listening["type"] == "listening", listening
        url = listening["url"]
        models = model_pids(tmp_path)
        assert len(models) == 1  # the parent's model process, not one per worker

        # A connection per request: the kernel spreads connections over the workers.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=LIMIT, limits=fresh) as client:
            answers = [await client.post(f"{url}/chat/completions", json=CHAT) for _ in range(20)]
            async with anyio.create_task_group() as tg:
                for _ in range(REQUESTS - 20):
                    tg.start_soon(lambda: _post(client, f"{url}/chat/completions", answers))
        assert [a.status_code for a in answers] == [200] * REQUESTS
        assert {a.json()["choices"][0]["message"]["content"] for a in answers} == {"I am here."}

        served: list[dict[str, Any]] = []
        with anyio.fail_after(LIMIT):
            while len(served) < REQUESTS:
                event = await next_event()
                if event["type"] == "request" and event.get("path") == "/v1/chat/completions":
                    served.append(event)
        assert {e["worker"] for e in served} == {0, 1}, served

        # Whichever worker answers a scrape, it counts the whole jar.
        root = url.removesuffix("/v1")
        async with httpx.AsyncClient(timeout=LIMIT, limits=fresh) as client:
            scrapes = [(await client.get(f"{root}/metrics")).text for _ in range(SCRAPES)]
        for text in scrapes:
            assert _sample(text, "brainjar_conversations_total", outcome="answer") == REQUESTS
            assert _sample(text, "brainjar_model_requests_total", outcome="ok") == REQUESTS
            assert _sample(text, "brainjar_conversations_in_flight", endpoint="openai") == 0
            waits = _sample(text, "brainjar_queue_wait_seconds_count", endpoint="openai")
            assert waits == REQUESTS
        scraped: set[int] = set()
        with anyio.fail_after(LIMIT):
            while len(scraped) < 2:  # the scrapes were spread over both workers
                event = await next_event()
                if event["type"] == "request" and event.get("path") == "/metrics":
                    scraped.add(event["worker"])

        # The model process as the parent's supervisor sees it: killed, restarted once.
        assert _sample(scrapes[0], "brainjar_model_process_state", state="ready") == 1
        assert _sample(scrapes[0], "brainjar_model_process_restarts_total") == 0
        os.kill(models[0], signal.SIGKILL)
        async with httpx.AsyncClient(timeout=LIMIT, limits=fresh) as client:
            with anyio.fail_after(LIMIT):
                while True:
                    text = (await client.get(f"{root}/metrics")).text
                    restarts = _sample(text, "brainjar_model_process_restarts_total")
                    ready = _sample(text, "brainjar_model_process_state", state="ready")
                    if (restarts, ready) == (1, 1):
                        break
                    await anyio.sleep(0.1)
        models = model_pids(tmp_path)
        assert len(models) == 2, models  # the one killed and the one started again

        children = anyio.Path(f"/proc/{process.pid}/task/{process.pid}/children")
        workers = [int(p) for p in (await children.read_text()).split()]
        assert len(workers) == 3, workers  # two workers' reapers and the model's reaper
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(LIMIT):
            assert await process.wait() == 0
        assert all(gone(pid) for pid in [*models, *workers])
    finally:
        await ended(process)
        stderr.close()


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with ``labels`` in a /metrics page."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no {name} {labels} in:\n{text}")


async def _post(client: httpx.AsyncClient, url: str, into: list[httpx.Response]) -> None:
    into.append(await client.post(url, json=CHAT))


@pytest.mark.parametrize(
    ("endpoints", "said"),
    [
        ("- mcp: {transport: http, port: 0}\n", "OpenAI and Ollama endpoints only"),
        ("- openai: {port: 0, max_concurrency: 1}\n", "cannot be shared by 2 workers"),
    ],
)
def test_what_workers_cannot_share_is_refused(tmp_path: Path, endpoints: str, said: str) -> None:
    manifest = _manifest(tmp_path, endpoints)
    done = subprocess.run(
        [sys.executable, "-m", "brainjar", "run", str(manifest), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # refused before the model started


@pytest.mark.parametrize(("total", "workers"), [(4, 2), (8, 3), (64, 5), (0, 3), (3, 3)])
def test_the_shares_of_a_limit_add_up_and_differ_by_one_at_most(total: int, workers: int) -> None:
    parts = [share(total, index=i, workers=workers) for i in range(workers)]
    assert sum(parts) == total and max(parts) - min(parts) <= 1


def test_a_worker_role_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from brainjar._worker import WORKER_VARIABLE, WorkerRole, worker_role

    role = WorkerRole(index=1, workers=2, model="http://127.0.0.1:9/v1", ports=(8080, 11434))
    monkeypatch.setenv(WORKER_VARIABLE, role.to_env())
    assert worker_role() == role
    monkeypatch.delenv(WORKER_VARIABLE)
    assert worker_role() is None and os.environ.get(WORKER_VARIABLE) is None
