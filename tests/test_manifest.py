"""Manifest v1: what it accepts, and what it says about what it refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brainjar import ManifestError
from brainjar.manifest._duration import parse_duration
from brainjar.manifest._load import load_manifest, load_yaml
from brainjar.manifest._models import JarManifest, LangChainTools, McpTools
from brainjar.manifest._schema import schema_json
from brainjar.manifest._size import parse_size
from brainjar.manifest._yaml import MAX_ALIAS_USES, MAX_MANIFEST_BYTES

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
    - mcp: {url: "http://127.0.0.1/mcp", headers: {Authorization: "Bearer ${DOCS_TOKEN:-none}"}}
  endpoints:
    - openai: {port: 8080}
  loop: {max_steps: 8, tool_timeout: 1m30s, parallel_tool_calls: true}
"""


MERGED = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata:
  name: merged
spec:
  model:
    backend: llama-cpp
    weights: smollm2-135m
  tools:
    - mcp: &time
        command: [mcp-server-time]
        timeout: 10s
    - mcp:
        <<: *time
        name: second-clock
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
    with pytest.raises(ManifestError, match=r"not valid YAML.*duplicate"):
        load_manifest(write(tmp_path, "kind: Jar\nkind: Jar\n"))


def test_a_missing_file_and_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "nope.yaml")
    with pytest.raises(ManifestError, match="1:1: a manifest is a mapping"):
        load_manifest(write(tmp_path, ""))


def test_model_backends_say_what_they_need(tmp_path: Path) -> None:
    text = GOOD.replace("backend: llama-cpp", "backend: ollama")
    with pytest.raises(ManifestError, match=r"7:3: spec\.model: backend ollama needs the served"):
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
        lambda a, b: MERGED[:a] + b + MERGED[a:],
        st.integers(min_value=0, max_value=len(MERGED)),
        st.sampled_from(["<<: *time\n", "<<: [*time]", "&x ", "*time", "<<: ", "  <<: {a: 1}\n"]),
    ),
    st.builds(
        lambda a, b: GOOD[:a] + b + GOOD[a:],
        st.integers(min_value=0, max_value=len(GOOD)),
        st.text(alphabet="{}[]:-,'\"&*!|<> \n\tabc$", max_size=8),
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


# Merge keys, YAML bombs, files that are no manifests, sizes.


def test_merge_keys_are_expanded(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, MERGED))
    assert isinstance(m, JarManifest)
    first, second = m.spec.tools
    assert isinstance(second, McpTools) and isinstance(first, McpTools)
    assert second.mcp.command == ["mcp-server-time"] and second.mcp.timeout == 10.0
    assert second.mcp.name == "second-clock" and first.mcp.name is None


def test_a_mistake_in_merged_content_points_where_it_is_written(tmp_path: Path) -> None:
    path = write(tmp_path, MERGED.replace("timeout: 10s", "timeout: soon"))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    # Both entries hold the bad value; both point at line 12, where it is written.
    assert [p.split(": ", 1)[0] for p in info.value.problems] == [f"{path}:12:18"] * 2
    assert "spec.tools[1].mcp.timeout: 'soon' is not a duration" in str(info.value)


def test_a_merged_key_the_schema_does_not_know_is_placed_in_its_anchor(tmp_path: Path) -> None:
    path = write(tmp_path, MERGED.replace("timeout: 10s", "timout: 10s"))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert f"{path}:12:9: spec.tools[1].mcp has no key 'timout'; did you mean 'timeout'?" in (
        info.value.problems
    )


def test_load_yaml_places_merged_keys_and_overrides() -> None:
    text = "base: &b {x: 1, y: 2}\nmore: &m {z: 3}\ntop:\n  <<: [*b, *m]\n  x: 9\n"
    data, positions = load_yaml(text, file="f")
    assert data["top"] == {"x": 9, "y": 2, "z": 3}
    assert positions[("top", "x")] == (5, 3)  # its own key wins, and is placed there
    assert positions[("top", "y")] == (1, 17)
    assert positions[("top", "z", -1)] == (2, 14)


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_billion_laughs_is_refused_without_expanding_it(tmp_path: Path) -> None:
    path = write(tmp_path, BILLION_LAUGHS)
    with pytest.raises(ManifestError, match=r"jar.yaml:7:4: this expands to more than \d+"):
        load_manifest(path)


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIAS_USES + 1)) + "]\n")
    with pytest.raises(ManifestError, match=r"jar.yaml:2:\d+: more than \d+ aliases"):
        load_manifest(path)


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_MANIFEST_BYTES + "\n")
    with pytest.raises(ManifestError, match=r"big.yaml: the file is larger than \d+ bytes"):
        load_manifest(path)


def validate_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brainjar", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_validate_refuses_a_device_with_exit_2() -> None:
    run = validate_cli(Path("/dev/zero"))
    assert run.returncode == 2, run.stderr
    assert "/dev/zero: this is a device, not a manifest" in run.stderr
    assert "Traceback" not in run.stderr


def test_validate_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "jar.yaml"
    os.mkfifo(fifo)
    run = validate_cli(fifo)
    assert run.returncode == 2, run.stderr
    assert f"{fifo}: this is a FIFO, not a manifest" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (4096, 4096),
        ("4096", 4096),
        ("512KiB", 512 * 1024),
        ("1MiB", 1 << 20),
        ("2MB", 2_000_000),
        ("1Gi", 1 << 30),
        ("1.5KiB", 1536),
        ("10 B", 10),
        ("3k", 3000),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1", "1.3KiB", "1TiB", True, -5])
def test_sizes_that_are_not(text: object) -> None:
    with pytest.raises(ValueError, match=r"size|whole number of bytes"):
        parse_size(text)


def test_max_result_is_read_as_a_size(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, GOOD.replace("max_steps: 8", "max_result: 512KiB")))
    assert isinstance(m, JarManifest) and m.spec.loop.max_result == 512 * 1024
    default = load_manifest(write(tmp_path, GOOD))
    assert isinstance(default, JarManifest) and default.spec.loop.max_result == 1 << 20
    path = write(tmp_path, GOOD.replace("max_steps: 8", "max_result: lots"))
    with pytest.raises(ManifestError, match=r"19:22: spec.loop.max_result: 'lots' is not a size"):
        load_manifest(path)
