"""`brainjar build`, `push`, `pull`, `images`, `rmi`, `inspect`, `login`: jars as OCI images."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ._common import EXIT_FAILED, EXIT_USAGE, _fail

T = TypeVar("T")

InsecureOpt = Annotated[
    bool,
    typer.Option("--insecure", help="plain HTTP; only for a registry on this machine's loopback"),
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca", help="PEM certificates to trust for the registry's TLS", show_default=False
    ),
]
RefArg = Annotated[str, typer.Argument(help="the image, e.g. 127.0.0.1:5000/jars/hello:1")]


def _guard(action: Callable[[], T]) -> T:
    """Runs ``action``; a user's mistake is exit 2, a failure exit 1, both a message."""
    from brainjar._errors import BrainjarError, ManifestError

    try:
        return action()
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except BrainjarError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None


def build(
    manifest: Annotated[Path, typer.Argument(help="the manifest (YAML)", show_default=False)],
    tag: Annotated[str, typer.Option("--tag", "-t", help="the image's reference")],
) -> None:
    """Pack a jar (manifest, the files it needs, its weights) into an image in the local store."""
    from brainjar.image import build_image, default_store, parse_reference

    built = _guard(lambda: build_image(manifest, parse_reference(tag), store=default_store()))
    print(f"built {tag} {built.digest} ({built.size} bytes)")


def push(ref: RefArg, insecure: InsecureOpt = False, ca: CaOpt = None) -> None:
    """Push an image to its registry; blobs the registry has are not sent again."""
    from brainjar.image import default_store, parse_reference, push_image

    done = _guard(
        lambda: push_image(parse_reference(ref), store=default_store(), insecure=insecure, ca=ca)
    )
    print(
        f"pushed {ref} {done.digest}: sent {done.sent_bytes} bytes in {done.sent_blobs} "
        f"blobs, {done.skipped_blobs} blobs already there"
    )


def pull(ref: RefArg, insecure: InsecureOpt = False, ca: CaOpt = None) -> None:
    """Pull an image (by tag or @sha256:digest) into the local store, verifying every blob."""
    from brainjar.image import default_store, parse_reference, pull_image

    done = _guard(
        lambda: pull_image(parse_reference(ref), store=default_store(), insecure=insecure, ca=ca)
    )
    print(
        f"pulled {ref} {done.digest}: received {done.received_bytes} bytes in "
        f"{done.received_blobs} blobs, {done.skipped_blobs} blobs already here"
    )


def images(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """List the local images: reference, digest, size, created, memory needed, fits here."""
    from brainjar.image import default_store, machine, needs_from_annotations
    from brainjar.image._needs import fits, human

    store = default_store()
    here = machine()
    rows: list[dict[str, Any]] = []
    for entry in store.entries():
        manifest = store.read_json(entry.digest)
        annotations = manifest.get("annotations", {})
        needs = needs_from_annotations(annotations)
        size = entry.size + manifest["config"]["size"] + sum(x["size"] for x in manifest["layers"])
        rows.append(
            {
                "ref": entry.ref,
                "digest": entry.digest,
                "size": size,
                "created": annotations.get("org.opencontainers.image.created", ""),
                "memory": needs.memory,
                "gpu": needs.gpu,
                "fits": fits(needs, here),
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("reference", "digest", "size", "created", "memory", "fits", title="images")
    for row in rows:
        memory = human(row["memory"]) + (" + GPU" if row["gpu"] else "")
        table.add_row(
            row["ref"], row["digest"][7:19], human(row["size"]), row["created"], memory,
            "yes" if row["fits"] else "no",
        )  # fmt: skip
    Console(width=200).print(table)


def rmi(
    refs: Annotated[list[str], typer.Argument(help="images to remove", show_default=False)],
) -> None:
    """Remove images from the local store, and the blobs no other image uses."""
    from brainjar.image import default_store, parse_reference

    store = default_store()
    missing = []
    for ref in refs:
        parsed = _guard(lambda ref=ref: parse_reference(ref))  # type: ignore[misc]
        key = f"{parsed.name}@{parsed.digest}" if parsed.digest else parsed.tagged
        if store.untag(key):
            print(f"untagged {key}")
        else:
            missing.append(ref)
    print(f"freed {store.gc()} bytes")
    if missing:
        raise _fail(f"no image {', '.join(missing)} in the local store (see brainjar images)", 2)


def inspect(ref: RefArg) -> None:
    """Print an image's annotations and its jar manifest (pulled first if absent)."""
    from brainjar.image import resolve_image
    from brainjar.image._needs import read_image_info

    path = _guard(lambda: resolve_image(ref))
    annotations = read_image_info(path.parent) or {}
    print(json.dumps({"annotations": annotations}, indent=2))
    print("---")
    sys.stdout.write(path.read_text(encoding="utf-8"))


def login(
    registry: Annotated[str, typer.Argument(help="host[:port] of the registry")],
    username: Annotated[str, typer.Option("--username", "-u", help="the user name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    insecure: InsecureOpt = False,
    ca: CaOpt = None,
) -> None:
    """Check a registry's user name and password, then store them in ~/.docker/config.json."""
    from brainjar.image._remote import check_login

    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt("Password", hide_input=True)
    )
    _guard(lambda: check_login(registry, username, password, insecure=insecure, ca=ca))
    config_path = Path(os.path.expanduser("~/.docker/config.json"))
    config: dict[str, Any] = {}
    if config_path.is_file():
        config = json.loads(config_path.read_text())
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    config.setdefault("auths", {})[registry] = {"auth": token}
    config_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.chmod(0o600)
    tmp.replace(config_path)
    print(f"credentials for {registry} saved in {config_path}")
