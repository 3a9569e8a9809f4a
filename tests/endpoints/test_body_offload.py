"""A big request body does not stall a served jar, and one over ``max_messages`` is refused.

Issue 9 #12: a 2.5 MB request with 60,000 messages held a jar's event loop for
10 s and every other client timed out. A real ``brainjar run`` process serves
both HTTP APIs over the scripted model; real sockets on loopback. Nothing here
measures time: a small conversation must be answered while other clients keep
sending such bodies, which the jar refuses in each API's own error layout.

What keeps the loop free is the cap: a body over ``max_messages`` is refused
right after ``json.loads``. Parsing it in a worker thread (``PARSE_IN_THREAD``)
does not shorten the stall, since ``json.loads`` holds the GIL; these tests pass
with the parse on the loop too, and fail without the cap (no big body is
answered within ``REQUEST_LIMIT``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from brainjar.testing import ScriptedModel, ScriptedModelServer, reply

# Starting Python, the jar and its servers; generous for a loaded CI machine.
START_LIMIT = 60.0
# How long one request (a big body or a small conversation) may take.
REQUEST_LIMIT = 60.0
# The jar's default cap on messages per request (brainjar.endpoints._http.MAX_MESSAGES).
MAX_MESSAGES = 1024
# What issue 9 #12 sent: 60,000 short messages, about 2.5 MB of JSON.
MANY = 60_000
# Clients sending big bodies side by side, and the most each sends (load loops are bounded).
HEAVY_CLIENTS = 3
HEAVY_REQUESTS = 40
ANSWER = "small and quick"
CHAT_PATH = {"openai": "/v1/chat/completions", "ollama": "/api/chat"}


@dataclass
class ServedJar:
    """A ``brainjar run`` process: each endpoint's root URL and the model behind it."""

    process: subprocess.Popen[str]
    roots: dict[str, str]
    model: ScriptedModelServer
    log: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)


def _body(kind: str, count: int) -> bytes:
    messages = [{"role": "user", "content": "0123456789"}] * count
    body: dict[str, Any] = {"model": "offload", "messages": messages}
    if kind == "ollama":
        body["stream"] = False
    return json.dumps(body).encode()


def _post(http: httpx.Client, jar: ServedJar, kind: str, body: bytes) -> httpx.Response:
    return http.post(
        jar.roots[kind] + CHAT_PATH[kind],
        content=body,
        headers={"content-type": "application/json"},
    )


def _error_message(kind: str, response: httpx.Response) -> str:
    """The error's message, after checking the API's own layout."""
    error = response.json()["error"]
    if kind == "openai":
        assert set(error) == {"message", "type", "param", "code"}, error
        assert error["type"] == "invalid_request_error" and error["param"] == "messages"
        assert error["code"] == "too_many_messages"
        return str(error["message"])
    assert isinstance(error, str), error  # Ollama: {"error": "..."}
    return error


def _answer(kind: str, response: httpx.Response) -> str:
    body = response.json()
    if kind == "openai":
        return str(body["choices"][0]["message"]["content"])
    return str(body["message"]["content"])


def _drain(stream: Any, into: queue.Queue[dict[str, Any]]) -> None:
    """Reads the jar's --json lines so its stdout pipe never fills."""
    for line in stream:
        if line.strip():
            into.put(json.loads(line))


@pytest.fixture(scope="module")
def jar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedJar]:
    """One jar process for the module, both APIs, over a model that always answers."""
    tmp_path = tmp_path_factory.mktemp("offload")
    model = ScriptedModelServer(ScriptedModel([reply(ANSWER)], repeat=True))
    with model.run_in_thread():
        manifest = tmp_path / "jar.yaml"
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: Jar
                metadata: {{name: offload}}
                spec:
                  model: {{backend: openai, endpoint: "{model.openai_base_url}", name: scripted}}
                  endpoints:
                    - openai: {{port: 0, max_concurrency: 8}}
                    - ollama: {{port: 0, max_concurrency: 8}}
                  loop: {{transcripts: {tmp_path / "transcripts"}}}
                """)
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        )
        served = ServedJar(process=process, roots={}, model=model)
        assert process.stdout is not None
        reader = threading.Thread(target=_drain, args=(process.stdout, served.log), daemon=True)
        reader.start()
        try:
            while len(served.roots) < 2:
                line = served.log.get(timeout=START_LIMIT)
                assert line["type"] == "listening", line
                served.roots[line["endpoint"]] = line["url"].removesuffix("/v1")
            # The jar keeps its connection to the model open: made here, it is not
            # taken for a socket one of the tests leaked.
            with httpx.Client(timeout=REQUEST_LIMIT) as http:
                for kind in ("openai", "ollama"):
                    assert _answer(kind, _post(http, served, kind, _body(kind, 1))) == ANSWER
            yield served
        finally:
            process.kill()
            process.wait()
            reader.join(START_LIMIT)
            process.stdout.close()


@pytest.mark.parametrize("kind", ["openai", "ollama"])
def test_a_request_over_max_messages_is_refused_in_the_apis_error_layout(
    jar: ServedJar, kind: str
) -> None:
    big = _body(kind, MANY)
    assert len(big) > 2_500_000  # the size issue 9 #12 sent
    before = len(jar.model.requests)
    with httpx.Client(timeout=REQUEST_LIMIT) as http:
        refused = _post(http, jar, kind, big)
        at_the_cap = _post(http, jar, kind, _body(kind, MAX_MESSAGES))
        over_by_one = _post(http, jar, kind, _body(kind, MAX_MESSAGES + 1))
    assert refused.status_code == 400, refused.text
    message = _error_message(kind, refused)
    assert f"carries {MANY} messages" in message and f"at most {MAX_MESSAGES}" in message
    assert over_by_one.status_code == 400 and "at most" in _error_message(kind, over_by_one)
    assert at_the_cap.status_code == 200 and _answer(kind, at_the_cap) == ANSWER
    # Only the conversation at the cap reached the model; the refused ones never did.
    assert len(jar.model.requests) == before + 1
    assert len(jar.model.requests[-1].messages) == MAX_MESSAGES


def test_a_small_conversation_is_answered_while_big_bodies_keep_coming(jar: ServedJar) -> None:
    """Three clients send 60,000-message bodies back to back on their own connections;
    a fourth asks a question on another connection. The big senders stop only once it
    is answered (each sends at most ``HEAVY_REQUESTS``), so the small conversation must
    get through while big bodies are being read and parsed, not after them."""
    big = _body("openai", MANY)
    heavy_started = threading.Event()
    small_answered = threading.Event()
    lock = threading.Lock()
    order: list[tuple[str, int, int]] = []  # (who, status, count of that sender so far)
    failures: list[BaseException] = []

    def heavy(client: int) -> None:
        try:
            with httpx.Client(timeout=REQUEST_LIMIT) as http:
                for sent in range(1, HEAVY_REQUESTS + 1):
                    answered_before = small_answered.is_set()
                    response = _post(http, jar, "openai", big)
                    with lock:
                        order.append((f"heavy{client}", response.status_code, sent))
                    heavy_started.set()
                    if answered_before:
                        return  # one more body after the small answer, then stop
        except BaseException as exc:  # reported by the test, not lost in a thread
            failures.append(exc)
            heavy_started.set()

    before = len(jar.model.requests)
    senders = [threading.Thread(target=heavy, args=(n,)) for n in range(HEAVY_CLIENTS)]
    for sender in senders:
        sender.start()
    try:
        assert heavy_started.wait(REQUEST_LIMIT), "no big body was answered"
        with httpx.Client(timeout=REQUEST_LIMIT) as http:
            small = http.post(
                jar.roots["openai"] + CHAT_PATH["openai"],
                json={"model": "offload", "messages": [{"role": "user", "content": "hi"}]},
            )
        with lock:
            order.append(("small", small.status_code, 1))
        small_answered.set()
    finally:
        small_answered.set()
        for sender in senders:
            sender.join(REQUEST_LIMIT * 2)
    assert not failures, failures
    assert not any(sender.is_alive() for sender in senders)
    assert small.status_code == 200 and _answer("openai", small) == ANSWER
    heavies = [entry for entry in order if entry[0] != "small"]
    assert heavies and all(status == 400 for _, status, _ in heavies), heavies
    # The small conversation did not wait for the big senders to run out: each of
    # them was still sending (under its bound) when the answer came, and went on
    # to have one more big body refused after it.
    small_at = order.index(("small", 200, 1))
    for client in range(HEAVY_CLIENTS):
        name = f"heavy{client}"
        after = [entry for entry in order[small_at:] if entry[0] == name]
        assert after, f"{name} had stopped before the small answer: {order}"
        assert after[-1][2] < HEAVY_REQUESTS, f"{name} used up its bound: {order}"
    assert len(jar.model.requests) == before + 1  # only the small conversation
    assert jar.process.poll() is None
