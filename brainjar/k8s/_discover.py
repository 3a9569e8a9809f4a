"""A jar's ``discover`` entries in a cluster: mDNS selectors become DNS SRV names.

mDNS rarely crosses pods, so an entry that browses mDNS is rendered to read the
SRV records of the headless Services ``render k8s`` makes for the ToolServices
it matches among those rendered with it: ``_grpc._tcp.<service>.<namespace>.svc.
<cluster domain>``, one record per ready pod. A ToolService matches when it has
every label of the entry's ``selector`` and, if the entry has an ``allow`` list,
its name is on it: what the jar's registry would admit if it saw it on mDNS. The
registry still checks each pod as it does any sighting (its labels, ``allow``,
the token proof), so DNS stays an address hint, never trust.

The namespace is ``--namespace``, else ``default`` (said in a note). Not the
pod's own namespace through a ``${VAR}``: every variable's value is hidden from
logs and transcripts as a secret, and a namespace such as ``default`` would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brainjar.manifest import JarManifest, ToolServiceManifest

    from ._render import RenderOptions

__all__ = [
    "DEFAULT_NAMESPACE",
    "DiscoverRendering",
    "ToolServiceRef",
    "render_discover",
    "srv_name",
    "tool_service_ref",
]

# Where objects rendered without --namespace land when applied without -n.
DEFAULT_NAMESPACE = "default"
# Keys of a discover entry that only mDNS browsing reads: dropped with DNS in their place.
_MDNS_KEYS = ("interfaces", "multicast")


@dataclass(frozen=True)
class ToolServiceRef:
    """What a jar's selector is matched against: a ToolService rendered in the same run."""

    name: str
    labels: dict[str, str]
    mcp: bool
    file: str


def tool_service_ref(manifest: ToolServiceManifest, *, file: str) -> ToolServiceRef:
    """The name, labels and MCP port of a ToolService, as its pods will describe it."""
    return ToolServiceRef(
        name=manifest.metadata.name,
        labels=dict(manifest.metadata.labels),
        mcp=manifest.spec.mcp is not None,
        file=file,
    )


def srv_name(service: str, *, options: RenderOptions) -> str:
    """The SRV name of a headless Service's ``grpc`` port, in the namespace it goes to."""
    namespace = options.namespace or DEFAULT_NAMESPACE
    return f"_grpc._tcp.{service}.{namespace}.svc.{options.cluster_domain}"


@dataclass
class DiscoverRendering:
    """What rendering the entries said: notes for stderr, comments for the served manifest."""

    notes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _selector_text(selector: dict[str, str], allow: Sequence[str]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(selector.items())] or ["(any labels)"]
    if allow:
        parts.append(f"allow {', '.join(allow)}")
    return "selector " + " ".join(parts)


def render_discover(
    raw_tools: list[Any],
    manifest: JarManifest,
    *,
    services: Sequence[ToolServiceRef],
    options: RenderOptions,
    file: str,
) -> DiscoverRendering:
    """Rewrites (in place) each ``discover`` entry that browses mDNS to read DNS SRV records.

    Args:
        raw_tools: the served manifest's ``spec.tools``, as written.
        manifest: the jar, read (its selectors with their ``${VAR}``s filled in).
        services: the ToolServices rendered with the jar.
        options: the namespace and the cluster domain.
        file: the manifest's file name, for messages.
    """
    out = DiscoverRendering()
    mapped = False
    for index, (entry, parsed) in enumerate(zip(raw_tools, manifest.spec.tools, strict=True)):
        config = getattr(parsed, "discover", None)
        raw = entry.get("discover") if isinstance(entry, dict) else None
        if config is None or not isinstance(raw, dict):
            continue
        if config.dns is not None or not config.multicast:
            continue  # DNS as written, or static addresses only: nothing browses mDNS
        where = f"{file}: tools[{index}].discover"
        wanted = _selector_text(config.selector, config.allow)
        matched = [
            s
            for s in services
            if all(s.labels.get(k) == v for k, v in config.selector.items())
            and (not config.allow or s.name in config.allow)
        ]
        if config.transport == "mcp":
            for s in (s for s in matched if not s.mcp):
                out.notes.append(
                    f"{where}: {wanted} matches ToolService {s.name} ({s.file}), which has "
                    "no mcp endpoint, while the entry uses transport: mcp: left out; give "
                    f"{s.file} spec.mcp, or use transport: grpc"
                )
            matched = [s for s in matched if s.mcp]
        if not matched:
            rendered = ", ".join(s.name for s in services) or "none"
            message = (
                f"{where}: {wanted} matches no ToolService rendered with this jar "
                f"(rendered: {rendered}), so the entry is left browsing mDNS, which "
                "does not cross pods: render the jar together with the ToolService "
                f"manifests it should use (brainjar render k8s {file} SERVICE.yaml...), "
                "or give the entry dns: {name: "
                f"{srv_name('<service>', options=options)}}}"
            )
            out.notes.append(message)
            out.comments.append(message)
            continue
        names = [srv_name(s.name, options=options) for s in matched]
        for key in _MDNS_KEYS:
            raw.pop(key, None)
        raw["dns"] = {"name": names[0] if len(names) == 1 else names}
        mapped = True
        out.notes.append(
            f"{where}: {wanted} finds ToolService {', '.join(s.name for s in matched)} "
            f"by DNS ({', '.join(names)}); mDNS is not browsed in the pod"
        )
    if mapped and options.namespace is None:
        out.notes.append(
            f"{file}: no --namespace: the SRV names of its tool services say namespace "
            f"{DEFAULT_NAMESPACE}; render with --namespace NS to apply the objects elsewhere"
        )
    return out
