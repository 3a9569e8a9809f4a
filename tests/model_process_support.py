"""A jar whose model process is the scripted model (supervisor_fixtures/scripted_model.py).

Each start of the model process appends its pid to ``folder/runs``, so a test
knows which process to kill and can check that none outlives its jar.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

FIXTURES = Path(__file__).parent / "supervisor_fixtures"


def scripted_model_manifest(
    folder: Path,
    *,
    name: str = "phoenix",
    endpoints: str = "- openai: {port: 0}\n",
    limit: float = 60.0,
    process: dict[str, object] | None = None,
    fixture: dict[str, str] | None = None,
) -> Path:
    """Writes ``folder/jar.yaml``: the model always answers "I am here.".

    Args:
        folder: where the manifest, its script and the ``runs`` file go (made if absent).
        name: the jar's name.
        endpoints: the ``endpoints:`` list, as YAML.
        limit: the model's request timeout and the process's ready timeout.
        process: more keys of ``model.process`` (``max_restarts``, ``stop_grace``).
        fixture: options of scripted_model.py (``crash_from_run="2"`` is ``--crash-from-run 2``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "script.yaml"
    script.write_text("steps: [{reply: I am here.}]\nrepeat: true\n")
    command = [sys.executable, str(FIXTURES / "scripted_model.py"), "{port}", str(script)]
    command.append(str(folder / "runs"))
    for key, value in (fixture or {}).items():
        command += [f"--{key.replace('_', '-')}", value]
    settings = {"command": command, "ready": {"http": "/v1/models", "timeout": limit}}
    settings.update(process or {})
    manifest = folder / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: {name}}}
            spec:
              model:
                backend: openai
                name: scripted
                timeout: {limit}
                process: {json.dumps(settings)}
              loop: {{transcripts: false}}
              endpoints:
            """)
        + textwrap.indent(endpoints, "    ")
    )
    return manifest


def model_pids(folder: Path) -> list[int]:
    """The pids of every start of the model process so far."""
    runs = folder / "runs"
    return [int(p) for p in runs.read_text().split()] if runs.exists() else []


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting for its reaper counts)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")
