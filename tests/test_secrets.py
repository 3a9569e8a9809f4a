"""Secrets never leave the process: values a manifest read from the environment,
URL passwords and the values of ``--api-key``-like flags are kept out of error
messages, logs, transcripts, HTTP bodies and ``brainjar validate``'s output.

The jar tests run ``brainjar run`` as a user does, against a scripted model
server or a real model process that crashes, and read what a client, the
terminal and the transcript folder got.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from process_support import ended_popen
from rich.console import Console

from brainjar._errors import ModelError, ProcessError
from brainjar._redact import redact, register_secret
from brainjar.cli._render import JsonRenderer, TerminalRenderer
from brainjar.process import ProcessSpec, supervise
from brainjar.runtime import ToolCallFinished, ToolCallStarted
from brainjar.testing import ScriptedModelServer, fail

# Starting Python, the jar and uvicorn, and the model's restarts; generous for a loaded machine.
LIMIT = 60

# A model server that logs its command line (as llama.cpp and vLLM do) and the
# adapter it loads (the last argument), answers its readiness probe, and crashes
# on the first chat request.
CRASHING_MODEL = """\
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

print("model server args:", " ".join(sys.argv[1:]), flush=True)
print("loading adapter", sys.argv[-1], flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self):
        print("out of memory while answering with", sys.argv[-1], flush=True)
        os._exit(3)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), Handler).serve_forever()
"""


@contextmanager
def _brainjar_run(manifest: Path, *, env: dict[str, str], verbose: bool) -> Iterator[str]:
    """Runs ``brainjar run --json`` on ``manifest``; yields the OpenAI endpoint's URL.

    stdout goes to ``out.txt`` and stderr to ``err.txt`` beside the manifest.
    """
    folder = manifest.parent
    command = [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"]
    with (folder / "out.txt").open("w") as out, (folder / "err.txt").open("w") as err:
        jar = subprocess.Popen(
            [*command, *(["--verbose"] if verbose else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(folder), **env},
        )
        try:
            assert jar.stdout is not None
            first = jar.stdout.readline()
            out.write(first)
            listening = json.loads(first) if first.startswith("{") else {}
            assert listening.get("type") == "listening", (folder / "err.txt").read_text()
            yield listening["url"]
            jar.send_signal(signal.SIGTERM)
            rest, _ = jar.communicate(timeout=LIMIT)
            out.write(rest)
        finally:
            ended_popen(jar)


def _ask(url: str) -> httpx.Response:
    return httpx.post(
        url + "/chat/completions",
        json={"model": "secretive", "messages": [{"role": "user", "content": "hi"}]},
        timeout=LIMIT,
    )


def _everything_written(folder: Path) -> str:
    """stdout, stderr and every transcript of a run, as one text."""
    texts = [(folder / name).read_text() for name in ("out.txt", "err.txt")]
    texts += [p.read_text() for p in sorted((folder / "transcripts").glob("*.jsonl"))]
    return "\n".join(texts)


def test_a_value_from_the_environment_never_reaches_a_client_log_or_transcript(
    tmp_path: Path,
) -> None:
    key = "sk-env-7f3a9c1e5b"  # the manifest reads it from $SECRETS_TEST_KEY
    # A server that quotes the key it refused, as OpenAI's own 401 does.
    script = [fail(401, f"Incorrect API key provided: {key}")]
    with ScriptedModelServer(script).run_in_thread() as model:
        manifest = tmp_path / "jar.yaml"
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: Jar
                metadata: {{name: secretive}}
                spec:
                  model:
                    backend: openai
                    endpoint: "{model.openai_base_url}"
                    name: scripted
                    api_key: ${{SECRETS_TEST_KEY}}
                  endpoints:
                    - openai: {{port: 0}}
                  loop: {{transcripts: "{tmp_path / "transcripts"}"}}
            """)
        )
        with _brainjar_run(manifest, env={"SECRETS_TEST_KEY": key}, verbose=True) as url:
            answer = _ask(url)
        assert model.requests  # the model server was asked, and refused
    assert answer.status_code == 502, answer.text
    message = answer.json()["error"]["message"]
    assert "HTTP 401" in message and "Incorrect API key provided: ***" in message
    assert key not in answer.text
    written = _everything_written(tmp_path)
    assert "Incorrect API key provided: ***" in written  # the transcript keeps the error
    assert key not in written


def test_a_model_process_command_line_never_reaches_a_client_log_or_transcript(
    tmp_path: Path,
) -> None:
    adapter = "adapter-env-4d2b8e6f"  # the manifest reads it from $SECRETS_TEST_ADAPTER
    (tmp_path / "model.py").write_text(CRASHING_MODEL)
    command = [sys.executable, str(tmp_path / "model.py"), "--port", "{port}"]
    command += ["--api-key", "proc-SECRET", "--token=proc-TOKEN", "${SECRETS_TEST_ADAPTER}"]
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: secretive}}
            spec:
              model:
                backend: openai
                name: crashy
                timeout: {LIMIT}
                process:
                  command: {json.dumps(command)}
                  ready: {{http: /health}}
                  restart: never
              endpoints:
                - openai: {{port: 0}}
              loop: {{transcripts: "{tmp_path / "transcripts"}"}}
        """)
    )
    with _brainjar_run(manifest, env={"SECRETS_TEST_ADAPTER": adapter}, verbose=True) as url:
        answer = _ask(url)
    assert answer.status_code == 502, answer.text
    message = answer.json()["error"]["message"]
    # The client learns what failed, and nothing of the process's command or log.
    assert "the model process is failed" in message and "exited with code 3" in message
    assert "last lines of its log" not in message and "out of memory" not in message
    written = _everything_written(tmp_path)
    # The terminal and the transcript keep the log, redacted.
    assert "--api-key *** --token=*** ***" in written
    assert "out of memory while answering with ***" in written
    assert "last lines of its log" in "".join(
        p.read_text() for p in (tmp_path / "transcripts").glob("*.jsonl")
    )
    for secret in ("proc-SECRET", "proc-TOKEN", adapter):
        assert secret not in answer.text
        assert secret not in written


async def test_a_process_error_holds_no_flag_value_in_its_message_or_log_tail(
    tmp_path: Path,
) -> None:
    code = "import sys; print('starting with', ' '.join(sys.argv[1:])); sys.exit(4)"
    spec = ProcessSpec(
        name="model",
        command=[sys.executable, "-c", code, "--api-key", "proc-SECRET", "--password=pw-SECRET"],
        ready_http="/health",
        restart="never",
    )
    lines: list[str] = []
    with pytest.raises(ProcessError) as caught:
        async with supervise(spec, log=lines.append):
            pass  # pragma: no cover - it never gets ready
    error = caught.value
    assert "exited with code 4" in error.summary
    assert "starting with --api-key *** --password=***" in error.log_tail
    assert "last lines of its log" in str(error) and "last lines" not in error.summary
    for text in (str(error), *lines):
        assert "proc-SECRET" not in text and "pw-SECRET" not in text


def test_brainjar_validate_says_where_a_value_is_wrong_without_quoting_it(
    tmp_path: Path,
) -> None:
    steps = "steps-env-91c2a7"  # read from $SECRETS_TEST_STEPS: not a number
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        textwrap.dedent("""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {name: secretive}
            spec:
              model:
                backend: openai
                endpoint: internal.example/ep-literal-5e1f
              tools:
                - mcp: {url: mcp.internal/url-literal-8b3d}
              endpoints:
                - openai: {port: port-literal-2a6c}
              loop: {max_steps: "${SECRETS_TEST_STEPS}"}
        """)
    )
    done = subprocess.run(
        [sys.executable, "-m", "brainjar", "validate", str(manifest)],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        env={**os.environ, "SECRETS_TEST_STEPS": steps},
        check=False,
    )
    assert done.returncode == 2
    problems = done.stderr
    # Each problem is named with its place...
    assert f"{manifest}:7:15: spec.model.endpoint: string should match pattern" in problems
    assert f"{manifest}:9:18: spec.tools[0].mcp.url: string should match pattern" in problems
    assert f"{manifest}:11:22: spec.endpoints[0].openai.port: input should be a valid" in problems
    assert f"{manifest}:12:21: spec.loop.max_steps: input should be a valid" in problems
    # ...and none of the values is quoted back.
    for value in ("ep-literal-5e1f", "url-literal-8b3d", "port-literal-2a6c", steps):
        assert value not in problems


def test_brainjar_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("log-secret-6c0e2d")
    log = logging.getLogger("brainjar.tests.secrets")
    with caplog.at_level(logging.WARNING, logger="brainjar"):
        try:
            raise RuntimeError("connecting with log-secret-6c0e2d")
        except RuntimeError:
            log.exception(
                "cannot reach %s with %s", "https://user:pw-1d9f@mcp.internal/mcp", "--token t-8e4a"
            )
    text = caplog.text
    assert "cannot reach https://***@mcp.internal/mcp with --token ***" in text
    assert "RuntimeError: connecting with ***" in text
    for secret in ("log-secret-6c0e2d", "pw-1d9f", "t-8e4a"):
        assert secret not in text


def test_errors_are_redacted_when_they_are_made() -> None:
    register_secret("error-secret-3b7a51")
    error = ModelError(
        "the model server at http://u:pw-77c1@host/v1?api_key=q-5e2d failed: error-secret-3b7a51",
        log_tail=["args: ['--api-key', 'proc-SECRET']", 'ARGS: --hf-token "h t" OPENAI_API_KEY=k9'],
    )
    assert error.summary == "the model server at http://***@host/v1?api_key=*** failed: ***"
    assert error.log_tail == [
        "args: ['--api-key', '***']",
        'ARGS: --hf-token "***" OPENAI_API_KEY=***',
    ]
    # What is not a secret stays readable.
    assert redact("--tokenizer hf/x --max-tokens 512 --port 8080") == (
        "--tokenizer hf/x --max-tokens 512 --port 8080"
    )


def test_the_terminal_shows_tool_activity_redacted() -> None:
    register_secret("tool-secret-0a5f3c")
    started = ToolCallStarted(call_id="1", name="fetch", arguments='{"url": "https://u:p-4c1b@h/"}')
    finished = ToolCallFinished(
        call_id="1", name="fetch", content="token is tool-secret-0a5f3c", seconds=0.1
    )
    err, out = io.StringIO(), io.StringIO()
    terminal = TerminalRenderer(out=out, err=Console(file=err, width=200, highlight=False))
    as_json = JsonRenderer(out=out)
    for event in (started, finished):
        terminal(event)
        as_json(event)
    shown = err.getvalue() + out.getvalue()
    assert 'fetch({"url": "https://***@h/"})' in shown and "token is ***" in shown
    assert "tool-secret-0a5f3c" not in shown and "p-4c1b" not in shown
