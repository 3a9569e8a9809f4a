"""Kubernetes objects rendered from manifests: ``brainjar render k8s``.

Plain objects (ConfigMap, Deployment, Service, PodDisruptionBudget, and an Ollama
Operator ``Model`` for ``backend: ollama``) built as dicts in a fixed key order and
dumped as YAML; no templating engine and no control plane of brainjar's own.

May import: ``brainjar._errors``, ``brainjar.manifest``, ``brainjar.models`` (the
size of packaged weights).
"""

from ._dump import dump_objects, kustomize_files
from ._render import DEFAULT_IMAGE, Rendered, RenderOptions, render_manifests

__all__ = [
    "DEFAULT_IMAGE",
    "RenderOptions",
    "Rendered",
    "dump_objects",
    "kustomize_files",
    "render_manifests",
]
