"""`brainjar render k8s`: Kubernetes objects from manifests, printed or written for kustomize."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._common import DEFAULT_GRACE, EXIT_FAILED, EXIT_USAGE, _fail

render_app = typer.Typer(
    name="render",
    help="Render manifests for other platforms (Kubernetes).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@render_app.command("k8s")
def k8s(
    manifests: Annotated[
        list[Path],
        typer.Argument(
            help="Jar and ToolService manifests, or jar images (brainjar build)",
            metavar="MANIFEST|REF",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="write one file per object and a kustomization.yaml to this folder "
            "(default: print one YAML stream)",
        ),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="the objects' namespace")] = None,
    replicas: Annotated[int, typer.Option(min=1, help="pods per jar or tool service")] = 1,
    image: Annotated[
        str | None,
        typer.Option(
            help="the brainjar container image (default: the repository Dockerfile's "
            "placeholder name; build, push and name your own)"
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="the jars' drain grace (brainjar run --grace); the pods get 10 s more",
        ),
    ] = DEFAULT_GRACE,
    cluster_domain: Annotated[
        str,
        typer.Option(help="the cluster's DNS domain, for the SRV names jars find tool services by"),
    ] = "cluster.local",
) -> None:
    """Print (or write) Kubernetes YAML: Deployments, Services, probes, Secrets by reference."""
    from brainjar._errors import BrainjarError, ManifestError
    from brainjar.k8s import (
        DEFAULT_IMAGE,
        RenderOptions,
        dump_objects,
        kustomize_files,
        render_manifests,
    )

    try:
        paths = [_manifest_path(arg) for arg in manifests]
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except BrainjarError as exc:  # an image that could not be pulled
        raise _fail(str(exc), EXIT_FAILED) from None
    options = RenderOptions(
        image=image or DEFAULT_IMAGE,
        namespace=namespace,
        replicas=replicas,
        grace=grace,
        cluster_domain=cluster_domain.strip("."),
    )
    try:
        rendered = render_manifests(paths, options, env=os.environ)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    for note in rendered.notes:
        sys.stderr.write(f"brainjar: note: {note}\n")
    if image is None:
        sys.stderr.write(
            f"brainjar: note: image {DEFAULT_IMAGE} is a placeholder: build the repository's "
            "Dockerfile, push it, and pass --image\n"
        )
    if out is None:
        sys.stdout.write(dump_objects(rendered.objects))
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        files = kustomize_files(rendered.objects, namespace=namespace)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write to {out}: {exc.strerror}; choose another -o folder", 1) from None
    sys.stderr.write(f"brainjar: wrote {len(files)} files to {out}; kubectl apply -k {out}\n")


def _manifest_path(arg: Path) -> Path:
    """A manifest file as given, or the manifest unpacked from a jar image (``brainjar build``).

    An image's manifest and files are rendered as a manifest's are: into the ConfigMap.
    """
    if arg.exists():
        return arg
    from brainjar.image import looks_like_reference, resolve_image

    return resolve_image(str(arg)) if looks_like_reference(str(arg)) else arg
