"""Manifest v1: what it accepts, and what it says about what it refuses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brainjar import ManifestError
from brainjar.manifest._duration import parse_duration
from brainjar.manifest._models import JarManifest, LangChainTools, McpTools
from brainjar.manifest._load import load_manifest, load_yaml
from brainjar.manifest._schema import schema_json

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata:
  name: file-clerk
  labels: {team: docs}
spec:
  model:
    backend: llama-cpp
    weights: smollm2-135m
    system: You are a careful file clerk.
  tools:
    - langchain: langchain_community.agent_toolkits:FileManagementToolkit
      with: {root_dir: ./sandbox}
      include: [read_file, list_directory]
    - mcp: {command: [mcp-server-time]}
    - mcp: {url: "http://127.0.0.1:8931/mcp", headers: {Authorization: "Bearer ${DOCS_TOKEN:-none}"}}
  endpoints:
    - openai: {port: 8080}
  loop: {max_steps: 8, tool_timeout: 1m30s, parallel_tool_calls: true}
"""


def write(tmp_path: Path, text: str, name: str = "jar.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_manifest_loads_with_paths_and_durations_resolved(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, GOOD))
    assert isinstance(m, JarManifest)
    assert m.metadata.labels == {"team": "docs"}
    lc, mcp_cmd, mcp_url = m.spec.tools
    assert isinstance(lc, LangChainTools) and isinstance(mcp_cmd, McpTools)
    assert lc.with_ == {"root_dir": str(tmp_path / "sandbox")}
    assert isinstance(mcp_url, McpTools)
    assert mcp_url.mcp.headers == {"Authorization": "Bearer none"}
    assert m.spec.loop.tool_timeout == 90.0


def test_environment_variables_are_interpolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "s3cret")
    m = load_manifest(write(tmp_path, GOOD))
    assert isinstance(m, JarManifest)
    tool = m.spec.tools[2]
    assert isinstance(tool, McpTools)
    assert tool.mcp.headers["Authorization"] == "Bearer s3cret"


def test_a_missing_variable_is_named_with_its_position(tmp_path: Path) -> None:
    text = GOOD.replace("${DOCS_TOKEN:-none}", "${BRAINJAR_SURELY_UNSET}")
    with pytest.raises(ManifestError) as info:
        load_manifest(write(tmp_path, text))
    assert (
        info.value.problems
        == [
            f"{tmp_path / 'jar.yaml'}:16:5: environment variable BRAINJAR_SURELY_UNSET is not set; "
            "set it, or write ${BRAINJAR_SURELY_UNSET:-default}"
        ]
        or "16:" in info.value.problems[0]
    )
    assert "BRAINJAR_SURELY_UNSET is not set" in str(info.value)


BAD = [
    # (what to change in GOOD, the expected line:col, a part of the message)
    (("kind: Jar", "kind: Jra"), "2:7", "kind must be one of"),
    (
        ("apiVersion: brainjar.dev/v1", "apiVersion: v2"),
        "1:13",
        "apiVersion: input should be 'brainjar.dev/v1'",
    ),
    (
        ("  name: file-clerk", "  name: File Clerk"),
        "4:9",
        "metadata.name: string should match pattern",
    ),
    (
        ("    backend: llama-cpp", "    backend: llama"),
        "8:14",
        "spec.model.backend: input should be",
    ),
    (("    weights: smollm2-135m", "    wieghts: smollm2-135m"), "9:5", "did you mean 'weights'?"),
    (
        ("{command: [mcp-server-time]}", "{comand: [mcp-server-time]}"),
        "15:13",
        "did you mean 'command'?",
    ),
    (
        ("{command: [mcp-server-time]}", "{command: mcp-server-time}"),
        "15:22",
        "e.g. [mcp-server-time]",
    ),
    (
        ("- mcp: {command: [mcp-server-time]}", "- mpc: {command: [mcp-server-time]}"),
        "15:7",
        "needs one of the keys langchain, mcp or discover",
    ),
    (("tool_timeout: 1m30s", "tool_timeout: soon"), "19:38", "'soon' is not a duration"),
    (("max_steps: 8", "max_steps: 0"), "19:21", "greater than or equal to 1"),
    (
        ("    - openai: {port: 8080}", "    - openai: {port: 99999}"),
        "18:22",
        "less than or equal to 65535",
    ),
    (
        ("langchain_community.agent_toolkits:FileManagementToolkit", "no colon here"),
        "12:18",
        "spec.tools[0].langchain: string should match",
    ),
    (
        ("    system: You are a careful file clerk.", "    endpoint: http://x"),
        "7:3",
        "backend llama-cpp starts its own server",
    ),
]


@pytest.mark.parametrize(("change", "where", "message"), BAD, ids=[b[2][:40] for b in BAD])
def test_each_mistake_is_reported_with_its_place(
    tmp_path: Path, change: tuple[str, str], where: str, message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    text = str(info.value)
    assert f"{path}:{where}: " in text, text
    assert message in text, text


def test_yaml_syntax_errors_have_a_place(tmp_path: Path) -> None:
    path = write(tmp_path, "apiVersion: brainjar.dev/v1\nkind: [Jar\n")
    with pytest.raises(ManifestError, match=r"jar.yaml:3:1: this is not valid YAML"):
        load_manifest(path)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not valid YAML.*duplicate"):
        load_manifest(write(tmp_path, "kind: Jar\nkind: Jar\n"))


def test_a_missing_file_and_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "nope.yaml")
    with pytest.raises(ManifestError, match="1:1: a manifest is a mapping"):
        load_manifest(write(tmp_path, ""))


def test_model_backends_say_what_they_need(tmp_path: Path) -> None:
    text = GOOD.replace("backend: llama-cpp", "backend: ollama")
    with pytest.raises(ManifestError, match="7:3: spec.model: backend ollama needs the served"):
        load_manifest(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("2m", 120), ("1h30m", 5400), ("250ms", 0.25), (5, 5), ("1.5", 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_the_checked_in_schema_is_what_brainjar_schema_prints() -> None:
    checked_in = (ROOT / "manifests" / "brainjar.schema.json").read_text()
    assert checked_in == schema_json("Jar"), "run: brainjar schema > manifests/brainjar.schema.json"


def test_every_shipped_manifest_is_valid() -> None:
    found = sorted((ROOT / "manifests").glob("*.yaml")) + sorted(
        (ROOT / "examples").glob("*/*.yaml")
    )
    shipped = [p for p in found if "apiVersion:" in p.read_text()]  # not the scripts beside them
    assert len(shipped) >= 3, "manifests/ has lost its manifests"
    for path in shipped:
        load_manifest(path)  # raises with file:line:col if not


def test_validate_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("kind: Jar", "kind: Jra"), "bad.yaml")
    good = write(tmp_path, GOOD, "good.yaml")
    run = subprocess.run(
        [sys.executable, "-m", "brainjar", "validate", str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert f"{good}: ok" in run.stdout
    assert f"{bad}:2:7: kind must be one of" in run.stderr
    assert "Traceback" not in run.stderr


yaml_text = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: __import__("json").dumps(v)),
    st.builds(
        lambda a, b: GOOD[:a] + b + GOOD[a:],
        st.integers(min_value=0, max_value=len(GOOD)),
        st.text(alphabet="{}[]:-,'\"&*!|> \n\tabc$", max_size=8),
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=yaml_text)
def test_random_yaml_never_ends_in_a_traceback(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text)
    try:
        load_manifest(path)
    except ManifestError as exc:
        assert all(p.startswith(str(path)) for p in exc.problems), exc.problems


def test_load_yaml_records_positions() -> None:
    data, positions = load_yaml("a:\n  - b: 1\n", file="x")
    assert data == {"a": [{"b": 1}]}
    assert positions[("a", 0, "b")] == (2, 5)
