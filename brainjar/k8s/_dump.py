"""YAML out: objects in the order they were built, multi-line strings as literal blocks."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

__all__ = ["dump_objects", "dump_yaml", "file_name", "kustomize_files"]

KUSTOMIZATION = "kustomization.yaml"


def _literal(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _literal(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_literal(v) for v in node]
    if isinstance(node, str) and "\n" in node:
        return LiteralScalarString(node)
    return node


def dump_yaml(data: Any) -> str:
    """One YAML document; keys keep the order they were inserted in, never aliases."""
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096  # no folding: a long command line stays on one line
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.representer.ignore_aliases = lambda *_: True
    out = io.StringIO()
    yaml.dump(_literal(data), out)
    return out.getvalue()


def dump_objects(objects: Sequence[dict[str, Any]]) -> str:
    """Every object as one multi-document YAML stream (``kubectl apply -f -``)."""
    return "".join(f"---\n{dump_yaml(obj)}" for obj in objects)


def file_name(obj: dict[str, Any]) -> str:
    """``<kind>-<name>.yaml``, lower case: one file per object."""
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def kustomize_files(
    objects: Sequence[dict[str, Any]], *, namespace: str | None = None
) -> dict[str, str]:
    """One file per object plus a ``kustomization.yaml`` that lists them, by file name."""
    files = {file_name(obj): dump_yaml(obj) for obj in objects}
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if namespace:
        kustomization["namespace"] = namespace
    kustomization["resources"] = list(files)
    files[KUSTOMIZATION] = dump_yaml(kustomization)
    return files
