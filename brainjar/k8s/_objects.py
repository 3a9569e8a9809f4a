"""The Kubernetes objects every manifest kind shares, as plain dicts in a fixed key order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from brainjar._errors import ManifestError

__all__ = [
    "CONFIG_DIR",
    "STATE_DIR",
    "Workload",
    "config_map",
    "deployment",
    "labels_for",
    "pod_disruption_budget",
    "secret_env",
    "service",
]

# Where the ConfigMap (the manifest and its small files) is mounted in the container.
CONFIG_DIR = "/etc/brainjar"
# brainjar's state (transcripts, the model's log): an emptyDir, XDG_STATE_HOME points at it.
STATE_DIR = "/var/lib/brainjar"
# Kubernetes label values: 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def labels_for(
    name: str, *, component: str, version: str, own: dict[str, str], file: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The object's labels (``app.kubernetes.io/*`` and the manifest's own) and its selector.

    Raises:
        ManifestError: a label of the manifest is not a valid Kubernetes label.
    """
    problems = [
        f"{file}: metadata.labels: {key!r}: {value!r} is not a Kubernetes label; keys and "
        "values are up to 63 characters of letters, digits, -, _ and ., e.g. team: docs"
        for key, value in own.items()
        if not (_LABEL_KEY.match(key) and _LABEL_VALUE.match(value))
    ]
    if problems:
        raise ManifestError(problems)
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    ours = {
        **selector,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "brainjar",
        "app.kubernetes.io/managed-by": "brainjar",
    }
    if version and _LABEL_VALUE.match(version):
        ours["app.kubernetes.io/version"] = version
    merged = {**own, **ours}  # ours win: the selector must stay what it is
    return dict(sorted(merged.items())), selector


def _meta(name: str, labels: dict[str, str], namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = dict(labels)
    return meta


def config_map(
    name: str,
    *,
    labels: dict[str, str],
    namespace: str | None,
    data: dict[str, str],
    binary: dict[str, str],
) -> dict[str, Any]:
    """The manifest (as rendered) and the small files next to it."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, labels, namespace),
    }
    if data:
        obj["data"] = dict(sorted(data.items()))
    if binary:
        obj["binaryData"] = dict(sorted(binary.items()))
    return obj


def secret_env(variables: dict[str, bool], *, secret: str) -> list[dict[str, Any]]:
    """An env entry per ``${VAR}``, read from the Secret ``secret`` (never its value).

    Args:
        variables: each variable's name, and whether the manifest gives it a default
            (``${VAR:-default}``): then the key may be missing from the Secret.
        secret: the Secret's name.
    """
    return [
        {
            "name": var,
            "valueFrom": {
                "secretKeyRef": {"name": secret, "key": var, "optional": has_default},
            },
        }
        for var, has_default in sorted(variables.items())
    ]


@dataclass
class Workload:
    """What differs between a jar's and a tool service's Deployment."""

    name: str
    labels: dict[str, str]
    selector: dict[str, str]
    image: str
    command: list[str]
    args: list[str]
    ports: list[tuple[str, int]]
    env: list[dict[str, Any]]
    config_map: str
    config_items: list[dict[str, str]]
    resources: dict[str, Any]
    probes: dict[str, Any]
    grace_seconds: int
    replicas: int
    annotations: dict[str, str] = field(default_factory=dict)


def deployment(work: Workload, *, namespace: str | None) -> dict[str, Any]:
    """One container running brainjar, the ConfigMap at ``CONFIG_DIR``, state in an emptyDir."""
    container: dict[str, Any] = {
        "name": "brainjar",
        "image": work.image,
        "command": list(work.command),
        "args": list(work.args),
        "workingDir": CONFIG_DIR,
        "ports": [
            {"name": port_name, "containerPort": port, "protocol": "TCP"}
            for port_name, port in work.ports
        ],
        "env": [{"name": "XDG_STATE_HOME", "value": STATE_DIR}, *work.env],
        "resources": work.resources,
        **work.probes,
        "volumeMounts": [
            {"name": "manifest", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if not container["ports"]:
        del container["ports"]
    template_meta: dict[str, Any] = {"labels": dict(work.labels)}
    if work.annotations:
        template_meta["annotations"] = dict(work.annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(work.name, work.labels, namespace),
        "spec": {
            "replicas": work.replicas,
            "selector": {"matchLabels": dict(work.selector)},
            "template": {
                "metadata": template_meta,
                "spec": {
                    "terminationGracePeriodSeconds": work.grace_seconds,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "manifest",
                            "configMap": {"name": work.config_map, "items": work.config_items},
                        },
                        {"name": "state", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def service(
    name: str,
    *,
    labels: dict[str, str],
    selector: dict[str, str],
    ports: list[tuple[str, int]],
    namespace: str | None,
    headless: bool = False,
) -> dict[str, Any]:
    """A Service with one named port per endpoint (``targetPort`` by name)."""
    spec: dict[str, Any] = {"selector": dict(selector)}
    if headless:  # one DNS record (and SRV record) per pod, not one virtual address
        spec["clusterIP"] = "None"
    spec["ports"] = [
        {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
        for port_name, port in ports
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, labels, namespace),
        "spec": spec,
    }


def pod_disruption_budget(
    name: str, *, labels: dict[str, str], selector: dict[str, str], namespace: str | None
) -> dict[str, Any]:
    """At most one pod down at a time during voluntary disruptions (drains, upgrades)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(name, labels, namespace),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
    }
