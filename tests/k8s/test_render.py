"""`brainjar render k8s`: every object validates against the official Kubernetes schemas
(and the Ollama Operator's Model CRD), the reference manifests render to stable YAML,
and what a pod needs (secrets by reference, probes, grace, resources) is there."""

from __future__ import annotations

import functools
import io
import os
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from brainjar._errors import ManifestError
from brainjar.cli import app
from brainjar.k8s import DEFAULT_IMAGE, RenderOptions, dump_objects, render_manifests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
# Set to 1 to rewrite the golden files from what render gives now (then read the diff).
REGENERATE = os.environ.get("BRAINJAR_REGENERATE_GOLDEN") == "1"
# The Kubernetes release whose OpenAPI schemas the objects must satisfy (kubernetes-validate).
K8S_VERSION = "1.37.0"
IMAGE = "registry.example.com/brainjar:golden"
CASES = {
    "hello": [ROOT / "manifests/hello.yaml"],
    "ollama": [ROOT / "manifests/ollama.yaml"],
    "tool-mesh": [
        ROOT / "examples/tool-mesh/clock-service.yaml",
        ROOT / "examples/tool-mesh/jar.yaml",
    ],
}


def _load_all(text: str) -> list[Any]:
    return list(YAML(typ="safe").load_all(io.StringIO(text)))


@functools.cache
def _model_crd() -> dict[str, Any]:
    (crd,) = _load_all((HERE / "ollama_model_crd.yaml").read_text())  # 600 KB: read once
    return dict(crd)


def _validate(obj: dict[str, Any]) -> None:
    if obj["kind"] == "Model":
        crd = _model_crd()
        (version,) = crd["spec"]["versions"]
        assert obj["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
        assert obj["kind"] == crd["spec"]["names"]["kind"]
        jsonschema.validate(obj, version["schema"]["openAPIV3Schema"])
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _render(paths: list[Path], **options: Any) -> list[dict[str, Any]]:
    # env={}: ${VAR:-default} renders its default whatever the developer's shell holds.
    return render_manifests(paths, RenderOptions(image=IMAGE, **options), env={}).objects


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = _by_kind(objects, "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


def _write(tmp_path: Path, text: str, name: str = "jar.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_manifests_render_to_stable_yaml(case: str) -> None:
    text = dump_objects(_render(CASES[case]))
    golden = GOLDEN / f"{case}.yaml"
    if REGENERATE:
        golden.write_text(text)
    assert text == golden.read_text(), (
        f"render changed; BRAINJAR_REGENERATE_GOLDEN=1 rewrites {golden}"
    )
    assert text == dump_objects(_render(CASES[case]))  # the same twice


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_validates_against_the_official_schemas(case: str) -> None:
    for replicas, namespace in ((1, None), (3, "agents")):
        objects = _render(CASES[case], replicas=replicas, namespace=namespace)
        assert {o["kind"] for o in objects} >= {"ConfigMap", "Deployment", "Service"}
        assert ("PodDisruptionBudget" in {o["kind"] for o in objects}) == (replicas > 1)
        for obj in objects:
            _validate(obj)
            assert obj["metadata"].get("namespace") == namespace


def test_the_schemas_refuse_what_is_wrong() -> None:
    """The validation above has teeth: a misspelt field and a bad Model both fail."""
    objects = _render(CASES["ollama"])
    deployment = _by_kind(objects, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = (
        "/"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)
    model = _by_kind(objects, "Model")
    del model["spec"]["image"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(model)


def test_a_jar_pod_runs_brainjar_serve_with_probes_grace_and_labels() -> None:
    objects = _render(CASES["hello"], grace=45)
    container = _container(objects)
    assert container["image"] == IMAGE
    assert [*container["command"], *container["args"]] == [
        "brainjar", "run", "/etc/brainjar/hello.yaml", "--serve", "--grace", "45",
    ]  # fmt: skip
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "openai"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "openai"}
    pod = _by_kind(objects, "Deployment")["spec"]["template"]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 55
    assert pod["metadata"]["labels"]["example"] == "true"  # the jar's own label
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == "hello"
    service = _by_kind(objects, "Service")
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("openai", 8080)]
    # The manifest's small files ride along; the served manifest listens on every address.
    config = _by_kind(objects, "ConfigMap")["data"]
    assert "Buy milk." in config["sandbox--todo.txt"]
    served = _load_all(config["hello.yaml"])[0]
    assert served["spec"]["endpoints"] == [{"openai": {"host": "0.0.0.0", "port": 8080}}]


def test_llama_cpp_memory_covers_the_weights_and_annotations_override_it(tmp_path: Path) -> None:
    from brainjar.models._llamacpp import resolve_weights

    weights = resolve_weights("smollm2-135m", base_dir=ROOT).stat().st_size
    request = _container(_render(CASES["hello"]))["resources"]["requests"]["memory"]
    assert request.endswith("Mi") and int(request[:-2]) * 1024 * 1024 > weights

    path = _write(
        tmp_path,
        """\
        apiVersion: brainjar.dev/v1
        kind: Jar
        metadata:
          name: big
          annotations: {brainjar.dev/min-memory: 3Gi, brainjar.dev/cpu: 1500m}
        spec:
          model: {backend: llama-cpp, weights: smollm2-135m}
        """,
    )
    resources = _container(_render([path]))["resources"]
    assert resources["requests"] == {"cpu": "1500m", "memory": "3Gi"}
    assert resources["limits"] == {"memory": "3Gi"}
    path.write_text(path.read_text().replace("3Gi", "three gigs"))
    with pytest.raises(
        ManifestError, match="min-memory: 'three gigs' is not a Kubernetes quantity"
    ):
        _render([path])


def test_every_variable_becomes_a_secret_reference_never_its_value(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        apiVersion: brainjar.dev/v1
        kind: Jar
        metadata: {name: secretive}
        spec:
          model: {backend: openai, name: m, endpoint: "${MODEL_URL}", api_key: "${API_KEY:-none}"}
          tools:
            - mcp: {url: "http://docs:8931/mcp", headers: {Authorization: "Bearer ${DOCS_TOKEN}"}}
          endpoints:
            - openai: {port: 0, token: "$${not-a-variable}"}
        """,
    )
    env = {"MODEL_URL": "http://model.example:8000/v1", "DOCS_TOKEN": "s3cret-token"}
    objects = render_manifests([path], RenderOptions(image=IMAGE), env=env).objects
    text = dump_objects(objects)
    assert "s3cret-token" not in text and "model.example" not in text
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in _container(objects)["env"]
        if "valueFrom" in e
    }
    assert refs == {
        "API_KEY": {"name": "secretive-env", "key": "API_KEY", "optional": True},
        "DOCS_TOKEN": {"name": "secretive-env", "key": "DOCS_TOKEN", "optional": False},
        "MODEL_URL": {"name": "secretive-env", "key": "MODEL_URL", "optional": False},
    }
    served = _load_all(_by_kind(objects, "ConfigMap")["data"]["jar.yaml"])[0]
    assert served["spec"]["model"]["endpoint"] == "${MODEL_URL}"  # read in the pod, from the Secret


def test_an_ollama_jar_gets_an_operator_model_and_points_at_its_service() -> None:
    objects = _render(CASES["ollama"], replicas=2)
    model = _by_kind(objects, "Model")
    assert model["apiVersion"] == "ollama.ayaka.io/v1"
    assert model["metadata"]["name"] == "qwen2-5-0-5b"
    assert model["spec"] == {"image": "qwen2.5:0.5b", "replicas": 2}
    served = _load_all(_by_kind(objects, "ConfigMap")["data"]["ollama.yaml"])[0]
    assert served["spec"]["model"]["endpoint"] == "http://ollama-model-qwen2-5-0-5b:11434"
    assert served["spec"]["model"]["name"] == "qwen2.5:0.5b"
    # Both of ollama.yaml's variables were about the model, which is now the operator's.
    assert not [e for e in _container(objects)["env"] if "valueFrom" in e]


def test_a_tool_service_is_labelled_for_jars_with_named_ports() -> None:
    objects = _render(CASES["tool-mesh"])
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    clock = services["clock"]
    assert clock["metadata"]["labels"]["brainjar.dev/tool-service"] == "true"
    assert clock["metadata"]["labels"]["team"] == "docs"
    assert clock["spec"]["clusterIP"] == "None"
    assert [p["name"] for p in clock["spec"]["ports"]] == ["grpc", "mcp"]
    assert "brainjar.dev/tool-service" not in services["mesh-user"]["metadata"]["labels"]
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "clock"
    )
    assert "def utc_now" in config["data"]["clock_tools.py"]  # the tools module rides along
    served = _load_all(config["data"]["clock-service.yaml"])[0]
    assert served["spec"]["announce"] == {"enabled": False}
    assert served["spec"]["host"] == "0.0.0.0"
    deployment = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "clock"
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["serve-tools", "/etc/brainjar/clock-service.yaml"]
    assert container["readinessProbe"]["grpc"] == {"port": 50051}


def test_two_manifests_that_clash_are_refused(tmp_path: Path) -> None:
    first = _write(tmp_path, "apiVersion: brainjar.dev/v1\nkind: Jar\nmetadata: {name: twin}\n"
                   "spec: {model: {backend: ollama, name: a}}\n", "a.yaml")  # fmt: skip
    second = _write(tmp_path, first.read_text().replace("name: a}", "name: b}"), "b.yaml")
    with pytest.raises(ManifestError, match=r"makes a ConfigMap named twin that .*a\.yaml makes"):
        _render([first, second])


def test_the_command_writes_a_kustomize_folder(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = CliRunner().invoke(
        app,
        ["render", "k8s", *map(str, CASES["tool-mesh"]), "-o", str(out), "--namespace", "ns"],
    )
    assert result.exit_code == 0, result.output
    assert f"image {DEFAULT_IMAGE} is a placeholder" in result.stderr
    kustomization = _load_all((out / "kustomization.yaml").read_text())[0]
    assert kustomization["namespace"] == "ns"
    files = sorted(p.name for p in out.iterdir() if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files
    assert "deployment-clock.yaml" in files and "service-mesh-user.yaml" in files
    for name in files:
        (obj,) = _load_all((out / name).read_text())
        _validate(obj)


def test_the_command_prints_a_stream_and_refuses_a_bad_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["render", "k8s", str(CASES["ollama"][0]), "--image", IMAGE])
    assert result.exit_code == 0, result.output
    kinds = [o["kind"] for o in _load_all(result.stdout)]
    assert kinds == ["Model", "ConfigMap", "Deployment", "Service"]
    bad = _write(
        tmp_path, "apiVersion: brainjar.dev/v1\nkind: Jar\nmetadata: {name: x}\nspec: {}\n"
    )
    result = CliRunner().invoke(app, ["render", "k8s", str(bad)])
    assert result.exit_code == 2
    assert "spec is missing the required key 'model'" in result.stderr
