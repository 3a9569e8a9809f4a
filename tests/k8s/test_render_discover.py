"""`brainjar render k8s`: a jar's mDNS ``discover`` selectors become the SRV names of the
headless Services rendered for the ToolServices they match, and a selector that matches
none says so (stderr and the served manifest), instead of leaving a silent dead entry."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import kubernetes_validate
from brainjar.registry import DnsSettings
from ruamel.yaml import YAML
from typer.testing import CliRunner

from brainjar.cli import app
from brainjar.jar._sources import discover_settings
from brainjar.k8s import RenderOptions, render_manifests
from brainjar.manifest import DiscoverTools, JarManifest, load_manifest

# The Kubernetes release whose schemas the objects must satisfy (as test_render.py).
K8S_VERSION = "1.37.0"
IMAGE = "registry.example.com/brainjar:test"
SUFFIX = "agents.svc.cluster.local"

JAR = """\
    apiVersion: brainjar.dev/v1
    kind: Jar
    metadata: {name: asker}
    spec:
      model: {backend: ollama, name: "qwen2.5:0.5b"}
      tools:
        - discover: {selector: {team: docs}, token: "${MESH_TOKEN:-}", interfaces: [127.0.0.1]}
        - discover: {selector: {team: finance}, allow: [billing]}
        - discover: {selector: {team: docs}, transport: mcp}
        - discover: {selector: {team: ops}}
        - discover: {dns: {name: _grpc._tcp.elsewhere.other.svc.cluster.local}}
        - discover: {static: ["10.0.0.9:50051"], multicast: false}
    """


def _service(name: str, team: str, *, mcp: bool) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: brainjar.dev/v1
        kind: ToolService
        metadata: {{name: {name}, labels: {{team: {team}}}}}
        spec:
          tools: [{{mcp: {{command: [mcp-server-time]}}}}]
          {"mcp: {port: 0}" if mcp else ""}
        """
    )


def _write(folder: Path) -> list[Path]:
    """The jar first: matching does not depend on the order of the manifests."""
    files = {
        "jar.yaml": textwrap.dedent(JAR),
        "clock.yaml": _service("clock", "docs", mcp=False),
        "notes.yaml": _service("notes", "docs", mcp=True),
        "billing.yaml": _service("billing", "finance", mcp=False),
        "payroll.yaml": _service("payroll", "finance", mcp=False),
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return [folder / name for name in files]


def _load_all(text: str) -> list[Any]:
    return list(YAML(typ="safe").load_all(io.StringIO(text)))


def _object(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _served(objects: list[dict[str, Any]], folder: Path, *, env: dict[str, str]) -> JarManifest:
    """The jar's manifest as the pod reads it from its ConfigMap."""
    text = _object(objects, "ConfigMap", "asker")["data"]["jar.yaml"]
    (folder / "served").mkdir(exist_ok=True)
    served = folder / "served" / "jar.yaml"
    served.write_text(text)
    manifest = load_manifest(served, env=env)
    assert isinstance(manifest, JarManifest)
    return manifest


def _dns(manifest: JarManifest, index: int) -> DnsSettings | None:
    entry = manifest.spec.tools[index]
    assert isinstance(entry, DiscoverTools)
    return discover_settings(entry.discover).dns


def test_selectors_become_the_srv_names_of_the_matching_tool_services(tmp_path: Path) -> None:
    options = RenderOptions(image=IMAGE, namespace="agents")
    rendered = render_manifests(_write(tmp_path), options, env={})
    for obj in rendered.objects:
        if obj["kind"] != "Model":
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    for name, ports in {"clock": ["grpc"], "notes": ["grpc", "mcp"], "billing": ["grpc"]}.items():
        spec = _object(rendered.objects, "Service", name)["spec"]
        assert spec["clusterIP"] == "None"  # headless: one SRV record per ready pod
        assert [p["name"] for p in spec["ports"]] == ports

    served = _served(rendered.objects, tmp_path, env={"MESH_TOKEN": "t"})
    docs = _dns(served, 0)
    assert docs is not None and docs.names == (
        f"_grpc._tcp.clock.{SUFFIX}",
        f"_grpc._tcp.notes.{SUFFIX}",
    )
    first = served.spec.tools[0]
    assert isinstance(first, DiscoverTools)
    # The trust rules stay: selector and token as written; mDNS is off in the pod.
    assert first.discover.selector == {"team": "docs"} and first.discover.token == "t"
    assert not discover_settings(first.discover).multicast
    assert first.discover.interfaces is None
    # allow narrows by name, as the registry would.
    assert _dns(served, 1) == DnsSettings(name=f"_grpc._tcp.billing.{SUFFIX}")
    # transport mcp: only the services with an MCP endpoint.
    assert _dns(served, 2) == DnsSettings(name=f"_grpc._tcp.notes.{SUFFIX}")
    # No match, DNS as written, static only: left as they are.
    assert _dns(served, 3) is None
    assert _dns(served, 4) == DnsSettings(name="_grpc._tcp.elsewhere.other.svc.cluster.local")
    assert _dns(served, 5) is None

    notes = "\n".join(rendered.notes)
    assert "tools[2].discover: selector team=docs matches ToolService clock" in notes
    assert "no mcp endpoint" in notes
    unmatched = next(n for n in rendered.notes if "tools[3]" in n)
    assert "selector team=ops matches no ToolService rendered with this jar" in unmatched
    assert "brainjar render k8s jar.yaml SERVICE.yaml" in unmatched
    assert f"_grpc._tcp.<service>.{SUFFIX}" in unmatched
    # The served manifest carries the warning too, for whoever reads the ConfigMap.
    text = _object(rendered.objects, "ConfigMap", "asker")["data"]["jar.yaml"]
    assert "# NOTE: jar.yaml: tools[3].discover: selector team=ops matches no" in text


def test_without_a_namespace_the_names_say_default_and_a_note_says_so(tmp_path: Path) -> None:
    rendered = render_manifests(_write(tmp_path), RenderOptions(image=IMAGE), env={})
    served = _served(rendered.objects, tmp_path, env={})
    assert _dns(served, 1) == DnsSettings(name="_grpc._tcp.billing.default.svc.cluster.local")
    assert any(
        "no --namespace: the SRV names of its tool services say namespace default" in note
        for note in rendered.notes
    )
    # Nothing about the namespace is read from a variable (those are hidden as secrets).
    deployment = _object(rendered.objects, "Deployment", "asker")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["XDG_STATE_HOME", "MESH_TOKEN"]


def test_the_command_warns_on_stderr_about_a_selector_that_matches_nothing(
    tmp_path: Path,
) -> None:
    jar, *_ = _write(tmp_path)
    result = CliRunner().invoke(
        app,
        ["render", "k8s", str(jar), "--image", IMAGE, "--namespace", "agents",
         "--cluster-domain", "corp.example"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "matches no ToolService" in line]
    assert len(warned) == 4  # the four entries that browse mDNS, with no service rendered
    assert "(rendered: none)" in warned[0]
    assert "_grpc._tcp.<service>.agents.svc.corp.example" in warned[0]
    (config, *_) = [o for o in _load_all(result.stdout) if o["kind"] == "ConfigMap"]
    assert "interfaces:" in config["data"]["jar.yaml"]  # the entry left as it was written
