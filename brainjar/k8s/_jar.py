"""A ``kind: Jar`` as Kubernetes objects: ConfigMap, Deployment, Service, PDB, Ollama Model."""

from __future__ import annotations

import copy
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._discover import ToolServiceRef, render_discover
from ._dump import dump_yaml
from ._files import carry_files, variables_in
from ._objects import (
    CONFIG_DIR,
    Workload,
    config_map,
    deployment,
    labels_for,
    pod_disruption_budget,
    secret_env,
    service,
)
from ._probes import DEFAULT_PORTS, http_probes, port_names, termination_grace
from ._resources import jar_resources, modest_resources

if TYPE_CHECKING:
    from brainjar.manifest import JarManifest

    from ._render import RenderOptions

__all__ = ["OLLAMA_PORT", "jar_objects", "ollama_model_name"]

# The port of the Service Ollama Operator makes for a Model (``ollama-model-<name>``).
OLLAMA_PORT = 11434
_HTTP_KINDS = ("openai", "ollama")


def ollama_model_name(model: str) -> str:
    """A Kubernetes name for an Ollama model: ``qwen2.5:0.5b`` -> ``qwen2-5-0-5b``."""
    name = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    return name[:50].strip("-") or "model"


def _endpoints(
    raw: list[Any], manifest: JarManifest, *, notes: list[str], file: str
) -> list[dict[str, Any]]:
    """The endpoints as the pod serves them: on every address, each on a fixed port."""
    out: list[dict[str, Any]] = []
    for entry, parsed in zip(raw, manifest.spec.endpoints, strict=True):
        kind = next(iter(entry))
        config = dict(entry[kind] or {})
        if kind == "mcp" and config.get("transport") == "stdio":
            notes.append(f"{file}: endpoints: mcp over stdio has no place in a pod: left out")
            continue
        port = getattr(parsed, kind).port
        config["host"] = "0.0.0.0"  # a pod is reached from outside it
        config["port"] = port or DEFAULT_PORTS[kind]
        out.append({kind: config})
    if not any(next(iter(e)) in _HTTP_KINDS for e in out):
        notes.append(
            f"{file}: the jar has no openai or ollama endpoint: rendered with "
            f"openai on port {DEFAULT_PORTS['openai']} (for its Service and its probes)"
        )
        out.insert(0, {"openai": {"host": "0.0.0.0", "port": DEFAULT_PORTS["openai"]}})
    return out


def jar_objects(
    manifest: JarManifest,
    raw: dict[str, Any],
    *,
    path: Path,
    options: RenderOptions,
    services: Sequence[ToolServiceRef] = (),
) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects for one jar, and notes on what was changed or left out.

    ``services`` are the ToolServices rendered with the jar: its ``discover``
    selectors become their headless Services' SRV names.
    """
    file = path.name
    notes: list[str] = []
    meta = manifest.metadata
    name = meta.name
    model = manifest.spec.model
    rendered = copy.deepcopy(raw)
    spec = rendered.setdefault("spec", {})
    spec["endpoints"] = _endpoints(spec.get("endpoints") or [], manifest, notes=notes, file=file)
    labels, selector = labels_for(
        name, component="jar", version=meta.version, own=meta.labels, file=file
    )
    objects: list[dict[str, Any]] = []

    if model.backend == "ollama":
        assert model.name is not None  # the schema requires it for ollama
        model_name = ollama_model_name(model.name)
        spec["model"]["name"] = model.name
        spec["model"]["endpoint"] = f"http://ollama-model-{model_name}:{OLLAMA_PORT}"
        if spec["model"].pop("process", None) is not None:
            notes.append(f"{file}: spec.model.process: Ollama Operator serves the model instead")
        model_labels, _ = labels_for(
            # No version: jars of any version share one model.
            model_name,
            component="model",
            version="",
            own={},
            file=file,
        )
        objects.append(_ollama_model(model_name, model.name, model_labels, options=options))
        resources = modest_resources(meta.annotations, file=file)
    elif model.backend == "llama-cpp":
        resources = jar_resources(
            model.weights,
            context_size=model.context_size,
            annotations=meta.annotations,
            base=path.parent.resolve(),
            notes=notes,
            file=file,
        )
    else:
        resources = modest_resources(meta.annotations, file=file)

    discovered = render_discover(
        spec.get("tools") or [], manifest, services=services, options=options, file=file
    )
    notes.extend(discovered.notes)
    carried = carry_files(raw.get("spec", {}), base=path.parent, file=file)
    notes.extend(carried.notes)
    header = [f"Rendered by `brainjar render k8s` from {file}."]
    header += [line for c in discovered.comments for line in textwrap.wrap(f"NOTE: {c}", 86)]
    manifest_text = "".join(f"# {line}\n" for line in header) + dump_yaml(rendered)
    carried.add_manifest(file, manifest_text)

    kinds = [next(iter(e)) for e in spec["endpoints"]]
    names = port_names(kinds)
    ports = [(n, e[k]["port"]) for n, e, k in zip(names, spec["endpoints"], kinds, strict=True)]
    http_port = next(n for n, k in zip(names, kinds, strict=True) if k in _HTTP_KINDS)
    objects.append(
        config_map(
            name,
            labels=labels,
            namespace=options.namespace,
            data=carried.data,
            binary=carried.binary,
        )
    )
    work = Workload(
        name=name,
        labels=labels,
        selector=selector,
        image=options.image,
        command=["brainjar"],
        args=["run", f"{CONFIG_DIR}/{file}", "--serve", "--grace", f"{options.grace:g}"],
        ports=ports,
        env=secret_env(variables_in(rendered), secret=f"{name}-env"),
        config_map=name,
        config_items=carried.items,
        resources=resources,
        probes=http_probes(http_port),
        grace_seconds=termination_grace(options.grace),
        replicas=options.replicas,
        # A changed ConfigMap changes the pod template, so the pods roll.
        annotations={"brainjar.dev/config-sha256": carried.digest()},
    )
    objects.append(deployment(work, namespace=options.namespace))
    objects.append(
        service(name, labels=labels, selector=selector, ports=ports, namespace=options.namespace)
    )
    if options.replicas > 1:
        objects.append(
            pod_disruption_budget(
                name, labels=labels, selector=selector, namespace=options.namespace
            )
        )
    return objects, notes


def _ollama_model(
    name: str, image: str, labels: dict[str, str], *, options: RenderOptions
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if options.namespace:
        meta["namespace"] = options.namespace
    meta["labels"] = labels
    return {
        "apiVersion": "ollama.ayaka.io/v1",
        "kind": "Model",
        "metadata": meta,
        "spec": {"image": image, "replicas": options.replicas},
    }
