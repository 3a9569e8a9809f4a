"""Jar images through a real registry without auth: round trip, digests, tampering, no re-send."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import HELLO, SMALL, Registry, blobs, brainjar, registry

pytestmark = pytest.mark.timeout(600)

# The shared small jar, with a LangChain module of its own to pack.
SMALL_WITH_TOOLS = SMALL + "  tools:\n    - langchain: clerk_tools:tools\n"
CLERK = '''\
from langchain_core.tools import tool


@tool
def shout(text: str) -> str:
    """Says text loudly."""
    return text.upper()


tools = [shout]
'''


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def _sent(output: str) -> int:
    match = re.search(r"sent (\d+) bytes", output)
    assert match, output
    return int(match[1])


def _digest(output: str) -> str:
    match = re.search(r"sha256:[0-9a-f]{64}", output)
    assert match, output
    return match[0]


def test_round_trip_by_tag_and_digest_and_no_second_upload(plain: Registry, tmp_path: Path) -> None:
    store = tmp_path / "images"
    ref = f"{plain.address}/jars/hello:1"
    built = brainjar("build", str(HELLO), "-t", ref, store=store)
    assert built.returncode == 0, built.stderr
    digest = _digest(built.stdout)

    first = brainjar("push", "--insecure", ref, store=store)
    assert first.returncode == 0, first.stderr
    assert _sent(first.stdout) > 90_000_000  # the weights went up once
    second = brainjar("push", "--insecure", ref, store=store)
    assert second.returncode == 0, second.stderr
    assert _sent(second.stdout) == 0, second.stdout  # every blob was already there

    removed = brainjar("rmi", ref, store=store)
    assert removed.returncode == 0, removed.stderr
    assert blobs(store) == set()  # gc took every blob with the last image

    pulled = brainjar("pull", "--insecure", ref, store=store)
    assert pulled.returncode == 0, pulled.stderr
    assert _digest(pulled.stdout) == digest
    listed = brainjar("tools", "--json", ref, store=store)
    assert listed.returncode == 0, listed.stderr
    assert {t["name"] for t in json.loads(listed.stdout)} == {"list_directory", "read_file"}

    assert brainjar("rmi", ref, store=store).returncode == 0
    by_digest = f"{plain.address}/jars/hello@{digest}"
    listed = brainjar("tools", "--json", by_digest, store=store)  # pulled because absent
    assert listed.returncode == 0, listed.stderr
    assert {t["name"] for t in json.loads(listed.stdout)} == {"list_directory", "read_file"}
    images = json.loads(brainjar("images", "--json", store=store).stdout)
    assert [(i["ref"], i["digest"]) for i in images] == [(by_digest, digest)]
    assert images[0]["memory"] > 98_000_000 and images[0]["fits"] is True


@pytest.mark.model
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="the local extra is not installed: pip install -e '.[local]'",
)
def test_run_by_reference_answers_with_a_tool_call(plain: Registry, tmp_path: Path) -> None:
    source = tmp_path / "source"
    ref = f"{plain.address}/jars/hello:run"
    assert brainjar("build", str(HELLO), "-t", ref, store=source).returncode == 0
    assert brainjar("push", "--insecure", ref, store=source).returncode == 0
    store = tmp_path / "images"  # an empty store: run pulls the image first
    run = brainjar("run", ref, "What is in the sandbox?", "--json", store=store, timeout=300)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    started = [e for e in events if e["type"] == "tool_call_started"]
    assert started and started[0]["name"] == "list_directory"
    assert events[-1]["type"] == "answer"


def test_a_tampered_blob_is_refused_and_leaves_the_store_clean(
    plain: Registry, tmp_path: Path
) -> None:
    jar = tmp_path / "jar"
    jar.mkdir()
    (jar / "small.yaml").write_text(SMALL_WITH_TOOLS)
    (jar / "clerk_tools.py").write_text(CLERK)
    source, store = tmp_path / "source", tmp_path / "images"
    ref = f"{plain.address}/jars/small:1"
    assert brainjar("build", str(jar / "small.yaml"), "-t", ref, store=source).returncode == 0
    assert brainjar("push", "--insecure", ref, store=source).returncode == 0
    manifest = json.loads(
        (
            source / "blobs/sha256" / _digest(brainjar("images", "--json", store=source).stdout)[7:]
        ).read_text()
    )
    layer = plain.blob(manifest["layers"][0]["digest"])
    data = bytearray(layer.read_bytes())
    data[600] ^= 0xFF  # one changed byte inside the layer
    layer.write_bytes(bytes(data))

    pulled = brainjar("pull", "--insecure", ref, store=store)
    assert pulled.returncode == 1
    assert "was not stored" in pulled.stderr and manifest["layers"][0]["digest"] in pulled.stderr
    assert "Traceback" not in pulled.stderr
    assert blobs(store) == set()  # no blob of the failed pull, no temporary file
    assert json.loads(brainjar("images", "--json", store=store).stdout) == []

    unknown = brainjar(
        "pull", "--insecure", f"{plain.address}/jars/small@sha256:{'0' * 64}", store=store
    )
    assert unknown.returncode == 1 and "404" in unknown.stderr, unknown.stderr
    assert blobs(store) == set()


LOCAL_MCP = """\
apiVersion: brainjar.dev/v1
kind: Jar
metadata: {name: local-mcp}
spec:
  model: {backend: openai, name: m, endpoint: "http://127.0.0.1:9/v1"}
  tools:
    - mcp: {command: [python, srv/server.py], name: local}
"""
MCP_SERVER = '''\
from mcp.server.mcpserver import MCPServer

app = MCPServer("local")


@app.tool()
def whisper(text: str) -> str:
    """Says text quietly."""
    return text.lower()


app.run()
'''


def test_a_local_mcp_server_runs_from_its_place_in_a_pulled_image(
    plain: Registry, tmp_path: Path
) -> None:
    jar = tmp_path / "jar"
    (jar / "srv").mkdir(parents=True)
    (jar / "srv" / "server.py").write_text(MCP_SERVER)
    (jar / "local.yaml").write_text(LOCAL_MCP)
    source, store = tmp_path / "source", tmp_path / "images"
    ref = f"{plain.address}/jars/local-mcp:1"
    assert brainjar("build", str(jar / "local.yaml"), "-t", ref, store=source).returncode == 0
    assert brainjar("push", "--insecure", ref, store=source).returncode == 0
    for path in sorted(jar.rglob("*"), reverse=True):  # the source folder is gone
        path.unlink() if path.is_file() else path.rmdir()
    assert brainjar("pull", "--insecure", ref, store=store).returncode == 0
    listed = brainjar("tools", ref, store=store)
    assert listed.returncode == 0, listed.stderr
    assert "whisper" in listed.stdout, listed.stdout + listed.stderr
