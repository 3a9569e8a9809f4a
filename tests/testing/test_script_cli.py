"""Script files and ``python -m brainjar.testing``, run as a real subprocess."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from process_support import ended

from brainjar.testing import ScriptedCall, call, calls, fail, load_script, reply

LIMIT = 20.0
SCRIPT = """\
- call: {name: add, arguments: {a: 1, b: 2}}
- calls:
    - {name: add, arguments: {a: 1}, id: first}
    - {name: mul, arguments: '{"a": 3'}
- reply: {text: slow, delay: 0.5, chunks: 2, pace: 0.1}
- reply: "The answer is 3."
- fail: {status: 503, message: overloaded}
- fail: 502
"""


def test_load_script_reads_every_kind_of_step(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(SCRIPT)
    model = load_script(path)
    assert model.steps == (
        call("add", {"a": 1, "b": 2}),
        calls(
            ScriptedCall(name="add", arguments={"a": 1}, id="first"),
            ScriptedCall(name="mul", arguments='{"a": 3'),
        ),
        reply("slow", delay=0.5, chunks=2, pace=0.1),
        reply("The answer is 3."),
        fail(503, "overloaded"),
        fail(502),
    )
    assert model.repeat is False


def test_load_script_json_with_repeat(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"steps": [{"reply": "hi"}], "repeat": True}))
    model = load_script(path)
    assert model.steps == (reply("hi"),) and model.repeat


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- say: hi\n", "steps[0]: expected exactly one of reply, call, calls, fail"),
        ("- reply: hi\n- call: {arguments: {}}\n", "steps[1]: call: expected {name: ..."),
        ("reply: hi\n", "expected a list of steps"),
        ("- reply: [unclosed\n", "cannot read the script"),
    ],
)
def test_load_script_names_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_script(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


async def test_cli_serves_a_script_until_terminated(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(SCRIPT)
    command = [sys.executable, "-m", "brainjar.testing", str(path), "--port", "0"]
    process = await anyio.open_process(command)
    try:
        assert process.stdout is not None
        with anyio.fail_after(LIMIT):
            line = await BufferedByteReceiveStream(process.stdout).receive_until(b"\n", 1000)
        url = line.decode().strip()
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url, timeout=LIMIT) as http:
            messages = [{"role": "user", "content": "1 + 2?"}]
            first = await http.post("/v1/chat/completions", json={"messages": messages})
            models = await http.get("/api/tags")
        assert first.json()["choices"][0]["message"]["tool_calls"][0]["function"] == {
            "name": "add",
            "arguments": '{"a": 1, "b": 2}',
        }
        assert models.json()["models"][0]["name"] == "scripted"
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(LIMIT):
            assert await process.wait() == 0
    finally:
        await ended(process)


async def test_cli_refuses_a_bad_script(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text("- say: hi\n")
    with anyio.fail_after(LIMIT):
        result = await anyio.run_process(
            [sys.executable, "-m", "brainjar.testing", str(path)], check=False
        )
    assert result.returncode == 2
    assert b"steps[0]" in result.stderr and result.stdout == b""
