"""Which files of its folder a jar needs, and the reproducible tar layer that holds them."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError

__all__ = ["IGNORE_FILE", "jar_files", "write_layer"]

IGNORE_FILE = ".brainjarignore"
# Never packed, whatever .brainjarignore says.
ALWAYS_IGNORED = [".git/", "__pycache__/", "*.pyc", ".brainjar-image.json"]
# Every entry's mtime: the same files make the same bytes, whenever they were touched.
FIXED_MTIME = 0


def _under(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _expand(path: Path) -> Iterable[Path]:
    if path.is_dir():
        yield from (p for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink())
    elif path.is_file():
        yield path


def _candidates(
    manifest: Any, base: Path, relative_keys: dict[int, set[str]]
) -> Iterable[tuple[str, Path]]:
    """``(where in the manifest, path)`` of everything the manifest points at."""
    for index, entry in enumerate(manifest.spec.tools):
        where = f"spec.tools[{index}]"
        if hasattr(entry, "langchain"):
            top = entry.langchain.split(":")[0].split(".")[0]
            for module in (base / f"{top}.py", base / top):
                if module.exists():
                    yield f"{where}.langchain", module
            for key, value in entry.with_.items():
                if isinstance(value, str) and Path(value).is_absolute() and Path(value).exists():
                    # Relative (./, ../) values were resolved against the folder when loaded.
                    outside = key in relative_keys.get(index, set())
                    yield f"{where}.with.{key}" + (".outside" if outside else ""), Path(value)
        elif hasattr(entry, "mcp") and entry.mcp.command is not None:
            cwd = entry.mcp.cwd or base
            for part in [*entry.mcp.command, *entry.mcp.args]:
                if part.startswith("-") or ("/" not in part and not part.endswith((".py", ".js"))):
                    continue
                path = Path(part) if Path(part).is_absolute() else cwd / part
                if path.is_file():
                    yield f"{where}.mcp.command", path.resolve()
        elif hasattr(entry, "discover"):
            for path in (entry.discover.file, entry.discover.ca):
                if path is not None and path.exists():
                    yield f"{where}.discover", path


def jar_files(
    manifest: Any, *, manifest_path: Path, raw: dict[str, Any] | None = None
) -> dict[str, Path]:
    """The files the jar needs, by their path relative to the manifest's folder.

    ``raw`` is the manifest as written: ``with:`` values written as relative paths
    must stay inside the folder; absolute ones are left to the running machine.

    Raises:
        ManifestError: a file it needs lies outside the manifest's folder.
    """
    import pathspec

    base = manifest_path.parent.resolve()
    patterns = list(ALWAYS_IGNORED)
    ignore_file = base / IGNORE_FILE
    if ignore_file.is_file():
        patterns += ignore_file.read_text(encoding="utf-8").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    found: dict[str, Path] = {}
    relative_keys: dict[int, set[str]] = {}
    for index, entry in enumerate((raw or {}).get("spec", {}).get("tools", []) or []):
        values = entry.get("with", {}) if isinstance(entry, dict) else {}
        relative_keys[index] = {
            k for k, v in (values or {}).items() if isinstance(v, str) and v.startswith("../")
        }
    for where, path in _candidates(manifest, base, relative_keys):
        resolved = path.resolve()
        if not _under(resolved, base):
            if not where.endswith(".outside"):
                continue  # an absolute path (/usr/bin/python): the running machine's own
            raise ManifestError(
                f"{manifest_path}: {where.removesuffix('.outside')} needs {resolved}, which "
                f"is outside the jar's folder {base}; move it under that folder (or write "
                "an absolute path that the machine running the image has)"
            )
        for file in _expand(resolved):
            relative = file.resolve().relative_to(base).as_posix()
            if not spec.match_file(relative) and file.resolve() != manifest_path.resolve():
                found[relative] = file
    return dict(sorted(found.items()))


def _info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def write_layer(
    handle: Any, *, manifest_text: bytes, jar_file: str, files: dict[str, Path]
) -> None:
    """Writes the files layer: the manifest as ``jar_file`` and ``files``, sorted, fixed mtimes."""
    entries: dict[str, Path | bytes] = {**files, jar_file: manifest_text}
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name in sorted(entries):
            content = entries[name]
            if isinstance(content, bytes):
                archive.addfile(_info(name, len(content), 0o644), io.BytesIO(content))
                continue
            executable = os.access(content, os.X_OK)
            info = _info(name, content.stat().st_size, 0o755 if executable else 0o644)
            with content.open("rb") as source:
                archive.addfile(info, source)
