"""`brainjar validate`, `schema` and `tools`: look at a manifest without serving it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._common import EXIT_USAGE, ManifestArg, _fail, _load, _run_async


def validate(
    files: Annotated[list[Path], typer.Argument(help="manifests to check", show_default=False)],
) -> None:
    """Check manifests; print every problem with file:line:col."""
    from brainjar._errors import ManifestError
    from brainjar.manifest._load import load_manifest

    bad = 0
    for file in files:
        try:
            load_manifest(file)
        except ManifestError as exc:
            bad += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{file}: ok")
    if bad:
        raise typer.Exit(EXIT_USAGE)


def schema(
    kind: Annotated[str, typer.Option(help="the document kind")] = "Jar",
) -> None:
    """Print the manifest's JSON Schema."""
    from brainjar.manifest._schema import schema_json

    try:
        sys.stdout.write(schema_json(kind))
    except KeyError:
        raise _fail(f"unknown kind {kind!r}", EXIT_USAGE) from None


def tools(
    manifest: ManifestArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """List the tools a jar resolves to, with sources and schemas (no model is started)."""
    jar = _load(manifest)

    async def main() -> int:
        from brainjar._errors import ManifestError

        async with jar.toolset:
            problems = jar.tool_problems()
            found = jar.tools()
            clashes = jar.toolset.clashes()
        if problems:  # a filter naming no tool is a manifest error (exit 2), as for run
            raise ManifestError(problems)
        # Which source won each name clash (the toolset has logged each clash and why).
        won_over = {c.name: list(c.losers) for c in clashes if c.winner}
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "name": t.name,
                            "source": t.source,
                            "description": t.description,
                            "parameters": t.parameters,
                            "won_over": won_over.get(t.name, []),
                        }
                        for t in found
                    ],
                    indent=2,
                )
            )
            return 0
        from rich.console import Console
        from rich.table import Table

        table = Table(
            "tool", "source", "won over", "arguments", "description", title=f"tools of {jar.name}"
        )
        for t in found:
            args = ", ".join(
                f"{k}{'*' if k in t.parameters.get('required', []) else ''}"
                for k in t.parameters.get("properties", {})
            )
            over = ", ".join(won_over.get(t.name, []))
            table.add_row(t.name, t.source, over, args, t.description.split("\n")[0][:80])
        Console().print(table)
        return 0

    _run_async(main)
