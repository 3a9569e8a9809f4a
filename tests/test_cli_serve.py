"""`brainjar run` on a manifest with endpoints serves until Ctrl-C, says where it
listens and, with --json, logs one line per request: run as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from brainjar.testing import ScriptedModelServer, reply

# Starting Python, the jar and uvicorn; generous for a loaded CI machine.
START_LIMIT = 60


def test_run_serves_the_endpoints_and_logs_requests(tmp_path: Path) -> None:
    with ScriptedModelServer([reply("Hello from the jar.")]).run_in_thread() as model:
        manifest = tmp_path / "jar.yaml"
        manifest.write_text(
            textwrap.dedent(f"""\
                apiVersion: brainjar.dev/v1
                kind: Jar
                metadata: {{name: served}}
                spec:
                  model: {{backend: openai, endpoint: "{model.openai_base_url}", name: scripted}}
                  endpoints:
                    - openai: {{port: 0}}
                  loop: {{transcripts: false}}
            """)
        )
        jar = subprocess.Popen(
            [sys.executable, "-m", "brainjar", "run", str(manifest), "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
        )
        try:
            assert jar.stdout is not None
            listening = json.loads(jar.stdout.readline())
            assert listening["type"] == "listening" and listening["endpoint"] == "openai"
            answer = httpx.post(
                listening["url"] + "/chat/completions",
                json={"model": "served", "messages": [{"role": "user", "content": "hi"}]},
                timeout=START_LIMIT,
            )
            assert answer.status_code == 200
            assert answer.json()["choices"][0]["message"]["content"] == "Hello from the jar."
            logged = json.loads(jar.stdout.readline())
            assert logged["type"] == "request" and logged["status"] == 200
            assert logged["path"] == "/v1/chat/completions"
            jar.send_signal(signal.SIGINT)
            assert jar.wait(timeout=START_LIMIT) == 130
        finally:
            jar.kill()
            jar.wait()
            for stream in (jar.stdout, jar.stderr):
                if stream:
                    stream.close()
