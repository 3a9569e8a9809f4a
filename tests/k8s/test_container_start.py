"""A rendered jar Deployment's container really starts: its command and args run here, with
the rendered ConfigMap written out as the files the pod would mount (no Kubernetes), and
``/readyz`` turns 200; SIGTERM (what the kubelet sends) drains it and it exits 0."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from process_support import ended_popen
from ruamel.yaml import YAML

from brainjar.k8s import RenderOptions, render_manifests
from brainjar.testing import ScriptedModelServer, reply

# Starting Python, brainjar, the jar and uvicorn on a loaded CI machine.
START_LIMIT = 90.0
# How often the test asks /readyz, as a kubelet's readiness probe would.
PROBE_PERIOD = 0.2
CONFIG_DIR = "/etc/brainjar"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _mount(config_map: dict[str, Any], volume: dict[str, Any], root: Path) -> None:
    """Writes the ConfigMap's keys at the volume's paths, as the kubelet would."""
    for item in volume["configMap"]["items"]:
        target = root / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_map["data"][item["key"]])


def _listen_on_loopback(manifest: Path, port: int) -> None:
    """The one change to the rendered manifest: tests listen on 127.0.0.1, on a free port."""
    yaml = YAML(typ="rt")
    data = yaml.load(manifest.read_text())
    (endpoint,) = data["spec"]["endpoints"]
    assert endpoint["openai"]["host"] == "0.0.0.0"
    endpoint["openai"]["host"] = "127.0.0.1"
    endpoint["openai"]["port"] = port
    out = io.StringIO()
    yaml.dump(data, out)
    manifest.write_text(out.getvalue())


def test_the_rendered_container_command_starts_and_turns_ready(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "jar_tools.py").write_text(
        textwrap.dedent('''\
            from langchain_core.tools import tool


            @tool
            def add(a: int, b: int) -> int:
                """Adds two numbers."""
                return a + b
        ''')
    )
    manifest = source / "scripted.yaml"
    manifest.write_text(
        textwrap.dedent("""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {name: scripted, labels: {team: docs}}
            spec:
              model: {backend: openai, name: scripted, endpoint: "${MODEL_URL}"}
              tools:
                - langchain: jar_tools:add
              loop: {transcripts: false}
        """)
    )
    with ScriptedModelServer([reply("Ready and scripted.")]).run_in_thread() as model:
        secrets = {"MODEL_URL": model.openai_base_url}
        objects = render_manifests(
            [manifest], RenderOptions(image="brainjar:test"), env=secrets
        ).objects
        by_kind = {o["kind"]: o for o in objects}
        pod = by_kind["Deployment"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "manifest"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "manifest"]
        assert mount["mountPath"] == CONFIG_DIR

        root = tmp_path / "etc-brainjar"
        _mount(by_kind["ConfigMap"], volume, root)
        assert (root / "jar_tools.py").is_file()  # carried by the ConfigMap
        port = _free_port()
        _listen_on_loopback(root / "scripted.yaml", port)

        def remap(arg: str) -> str:
            return arg.replace(CONFIG_DIR, str(root))

        env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for var in container["env"]:
            if "value" in var:
                env[var["name"]] = (
                    str(tmp_path / "state") if var["name"] == "XDG_STATE_HOME" else var["value"]
                )
            else:
                ref = var["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "scripted-env"
                env[var["name"]] = secrets[ref["key"]]  # what `kubectl create secret` holds
        command = [*container["command"], *map(remap, container["args"])]
        assert command[:2] == ["brainjar", "run"] and "--serve" in command
        jar = subprocess.Popen(
            command,
            cwd=remap(container["workingDir"]),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            readiness = container["readinessProbe"]["httpGet"]["path"]
            liveness = container["livenessProbe"]["httpGet"]["path"]
            deadline = time.monotonic() + START_LIMIT
            status = None
            while status != 200:
                assert jar.poll() is None, jar.stderr.read().decode() if jar.stderr else ""
                assert time.monotonic() < deadline, f"{readiness} did not turn 200: {status}"
                try:
                    status = httpx.get(base + readiness, timeout=START_LIMIT).status_code
                except httpx.TransportError:
                    status = None
                if status != 200:
                    time.sleep(PROBE_PERIOD)  # the probe's period, not a wait for readiness
            assert httpx.get(base + liveness, timeout=START_LIMIT).status_code == 200
            answer = httpx.post(
                base + "/v1/chat/completions",
                json={"model": "scripted", "messages": [{"role": "user", "content": "ready?"}]},
                timeout=START_LIMIT,
            )
            assert answer.json()["choices"][0]["message"]["content"] == "Ready and scripted."
            jar.send_signal(signal.SIGTERM)
            assert jar.wait(timeout=pod["terminationGracePeriodSeconds"]) == 0
        finally:
            ended_popen(jar)
