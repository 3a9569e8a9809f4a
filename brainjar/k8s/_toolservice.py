"""A ``kind: ToolService`` as Kubernetes objects: ConfigMap, Deployment, headless Service."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from ._probes import DEFAULT_PORTS, grpc_probes, termination_grace
from ._resources import modest_resources

if TYPE_CHECKING:
    from brainjar.manifest import ToolServiceManifest

    from ._render import RenderOptions

__all__ = ["TOOL_SERVICE_LABEL", "tool_service_objects"]

# Jars in the cluster find tool services by this label (as kagent finds MCP servers
# by kagent.dev/mcp-service=true), then narrow them down by their own labels.
TOOL_SERVICE_LABEL = "brainjar.dev/tool-service"
# An MCP port for a ToolService whose manifest says port 0.
MCP_PORT = 8000


def tool_service_objects(
    manifest: ToolServiceManifest, raw: dict[str, Any], *, path: Path, options: RenderOptions
) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects for one tool service, and notes on what was changed or left out."""
    file = path.name
    notes: list[str] = []
    meta = manifest.metadata
    name = meta.name
    rendered = copy.deepcopy(raw)
    spec = rendered.setdefault("spec", {})
    spec["host"] = "0.0.0.0"  # the Service reaches the pod from outside
    grpc_port = manifest.spec.grpc.port or DEFAULT_PORTS["grpc"]
    spec["grpc"] = {"port": grpc_port}
    ports = [("grpc", grpc_port)]
    if manifest.spec.mcp is not None:
        mcp_port = manifest.spec.mcp.port or MCP_PORT
        spec["mcp"] = {**(spec.get("mcp") or {}), "port": mcp_port}
        ports.append(("mcp", mcp_port))
    if manifest.spec.announce.enabled:
        notes.append(
            f"{file}: spec.announce: mDNS is off in the cluster (multicast rarely crosses "
            f"pods); jars rendered with it find it by its headless Service's SRV records "
            f"(_grpc._tcp.{name}.<namespace>.svc...)"
        )
    spec["announce"] = {"enabled": False}
    if manifest.spec.tls is not None:
        notes.append(
            f"{file}: spec.tls: the certificate and key are not carried (a key does not "
            "belong in a ConfigMap): mount them from a Secret at the paths the manifest names"
        )

    labels, selector = labels_for(
        name,
        component="tool-service",
        version=meta.version,
        own={**meta.labels, TOOL_SERVICE_LABEL: "true"},
        file=file,
    )
    carried = carry_files(raw.get("spec", {}), base=path.parent, file=file)
    notes.extend(carried.notes)
    carried.add_manifest(
        file, f"# Rendered by `brainjar render k8s` from {file}.\n" + dump_yaml(rendered)
    )
    grace = manifest.spec.stop_grace
    work = Workload(
        name=name,
        labels=labels,
        selector=selector,
        image=options.image,
        command=["brainjar"],
        args=["serve-tools", f"{CONFIG_DIR}/{file}", "--grace", f"{grace:g}"],
        ports=ports,
        env=secret_env(variables_in(rendered), secret=f"{name}-env"),
        config_map=name,
        config_items=carried.items,
        resources=modest_resources(meta.annotations, file=file),
        probes=grpc_probes(grpc_port, tls=manifest.spec.tls is not None),
        grace_seconds=termination_grace(grace),
        replicas=options.replicas,
        annotations={"brainjar.dev/config-sha256": carried.digest()},
    )
    objects = [
        config_map(
            name,
            labels=labels,
            namespace=options.namespace,
            data=carried.data,
            binary=carried.binary,
        ),
        deployment(work, namespace=options.namespace),
        # Headless: one A record and one SRV record (_grpc._tcp.<name>) per pod.
        service(
            name,
            labels=labels,
            selector=selector,
            ports=ports,
            namespace=options.namespace,
            headless=True,
        ),
    ]
    if options.replicas > 1:
        objects.append(
            pod_disruption_budget(
                name, labels=labels, selector=selector, namespace=options.namespace
            )
        )
    return objects, notes
