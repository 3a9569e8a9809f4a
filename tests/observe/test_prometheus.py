"""A real Prometheus scrapes a jar's /metrics; PromQL counts one scripted conversation."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from observe_support import POLL, WAIT, served
from process_support import ended

from brainjar.process import free_port

# How long Prometheus may take to stop once told to.
STOP_WAIT = 20.0


@asynccontextmanager
async def prometheus(tmp_path: Path, target: str) -> AsyncIterator[str]:
    """Runs Prometheus on loopback, scraping ``target`` (host:port) every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run bash tests/system_packages.sh")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        textwrap.dedent(
            f"""\
            global: {{scrape_interval: 1s, evaluation_interval: 1s}}
            scrape_configs:
              - job_name: jar
                static_configs: [{{targets: ["{target}"]}}]
            """
        )
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    command = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    process = await anyio.open_process(command, stdout=log, stderr=log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await ended(process, grace=STOP_WAIT)
        log.close()


async def query(client: httpx.AsyncClient, url: str, promql: str) -> float | None:
    """The value of an instant query with one result, or None while there is none."""
    try:
        reply = await client.get(f"{url}/api/v1/query", params={"query": promql})
    except httpx.TransportError:  # not listening yet
        return None
    if reply.status_code != 200:
        return None
    results = reply.json()["data"]["result"]
    return float(results[0]["value"][1]) if results else None


async def until(client: httpx.AsyncClient, url: str, promql: str, want: float) -> float | None:
    """Polls ``promql`` until it is ``want`` or ``WAIT`` ran out; returns the last value."""
    value = None
    with anyio.move_on_after(WAIT):
        while True:
            value = await query(client, url, promql)
            if value == want:
                break
            await anyio.sleep(POLL)
    return value


async def test_prometheus_counts_a_conversation_with_a_tool_call(tmp_path: Path) -> None:
    async with served(tmp_path) as jar, httpx.AsyncClient(timeout=10) as client:
        target = jar.root.removeprefix("http://")
        async with prometheus(tmp_path, target) as url:
            assert await until(client, url, 'up{job="jar"}', 1.0) == 1.0, (
                tmp_path / "prometheus.log"
            ).read_text()[-2000:]
            body = {"model": "adder", "messages": [{"role": "user", "content": "2+3?"}]}
            answer = await client.post(f"{jar.url}/chat/completions", json=body)
            assert answer.status_code == 200, answer.text

            conversations = 'sum(brainjar_conversations_total{outcome="answer"})'
            assert await until(client, url, conversations, 1.0) == 1.0
            tool_calls = 'brainjar_tool_calls_total{tool="add",outcome="ok"}'
            assert await query(client, url, tool_calls) == 1.0
            assert await query(client, url, 'sum(brainjar_model_requests_total{outcome="ok"})') == 2
            assert await query(client, url, "brainjar_steps_total") == 2
            requests = "sum(gen_ai_client_operation_duration_seconds_count)"
            assert await query(client, url, requests) == 2
            tokens = 'sum(gen_ai_client_token_usage_sum{gen_ai_token_type="output"})'
            assert (await query(client, url, tokens) or 0) > 0
            assert await query(client, url, "brainjar_tool_call_duration_seconds_count") == 1
            in_flight = 'brainjar_conversations_in_flight{endpoint="openai"}'
            assert await query(client, url, in_flight) == 0
            waits = 'brainjar_queue_wait_seconds_count{endpoint="openai"}'
            assert await query(client, url, waits) == 1
            assert await query(client, url, 'brainjar_model_process_state{state="ready"}') == 1
            assert await query(client, url, "brainjar_model_process_restarts_total") == 0


async def test_metrics_are_off_with_the_manifest_switch(tmp_path: Path) -> None:
    extra = "  observe: {metrics: false}\n"
    async with served(tmp_path, extra=extra) as jar, httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(f"{jar.root}/metrics")).status_code == 404
        assert jar.jar.observer.metrics is None
