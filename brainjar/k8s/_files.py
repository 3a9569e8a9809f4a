"""What goes into a manifest's ConfigMap: the manifest as rendered, and small files beside it.

Carried: a tools module next to the manifest (``langchain: clock_tools:add`` and
``clock_tools.py`` beside it) and folders or files that ``with:`` names as
``./path``, within ``MAX_FILES`` files and ``MAX_BYTES`` in all (a ConfigMap
holds at most 1 MiB). Not carried, and said so in the notes: weights files,
TLS certificates and keys, ``discover`` files, MCP servers' working folders,
anything outside the manifest's folder. ConfigMap volumes are read-only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brainjar._errors import ManifestError
from brainjar.manifest._load import _VAR as VARIABLE  # the grammar interpolation reads

__all__ = ["MAX_BYTES", "MAX_FILES", "Carried", "carry_files", "variables_in"]

# A ConfigMap holds at most 1 MiB; leave room for the manifest and the object itself.
MAX_BYTES = 512 * 1024
MAX_FILES = 64
_KEY_UNSAFE = re.compile(r"[^-._a-zA-Z0-9]")


def variables_in(data: Any) -> dict[str, bool]:
    """Every ``${VAR}`` in the strings of ``data``, and whether it has a default."""
    found: dict[str, bool] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            for match in VARIABLE.finditer(node):
                if match.group(1):  # not "$$"
                    name, default = match.group(1), match.group(2)
                    found[name] = found.get(name, True) and default is not None

    walk(data)
    return found


@dataclass
class Carried:
    """Files for the ConfigMap: text in ``data``, the rest base64 in ``binary``."""

    data: dict[str, str] = field(default_factory=dict)
    binary: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0

    def add(self, key_path: str, content: bytes, *, file: str) -> None:
        """Adds one file at ``key_path`` (relative to the mount) under a ConfigMap key."""
        if any(item["path"] == key_path for item in self.items):
            return
        key = _KEY_UNSAFE.sub("_", key_path.replace("/", "--"))
        self.size += len(content)
        if self.size > MAX_BYTES or len(self.items) >= MAX_FILES:
            raise ManifestError(
                f"{file}: the files next to the manifest that it needs pass "
                f"{MAX_BYTES // 1024} KiB or {MAX_FILES} files (at {key_path}); a ConfigMap "
                "holds at most 1 MiB: put them in the image, or in a volume, and refer "
                "to them by an absolute path"
            )
        try:
            self.data[key] = content.decode("utf-8")
        except UnicodeDecodeError:
            self.binary[key] = base64.b64encode(content).decode("ascii")
        self.items.append({"key": key, "path": key_path})

    def add_manifest(self, file: str, text: str) -> None:
        """Puts the manifest, as rendered, first: ``CONFIG_DIR/<file>``."""
        self.data[file] = text
        self.items.insert(0, {"key": file, "path": file})

    def digest(self) -> str:
        """A hash of every file, so that a pod template changes when they do."""
        content = {**self.data, **self.binary}
        return hashlib.sha256(
            "".join(f"{k}\n{v}\n" for k, v in sorted(content.items())).encode()
        ).hexdigest()


def _add_path(carried: Carried, path: Path, base: Path, *, file: str) -> None:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if "__pycache__" not in child.parts:
                _add_path(carried, child, base, file=file)
        return
    carried.add(path.relative_to(base).as_posix(), path.read_bytes(), file=file)


def carry_files(raw_spec: dict[str, Any], *, base: Path, file: str) -> Carried:
    """The small files a manifest's tools need from its folder, and notes on the rest."""
    carried = Carried()
    base = base.resolve()
    for entry in raw_spec.get("tools", []) or []:
        if not isinstance(entry, dict):
            continue
        target = entry.get("langchain")
        if isinstance(target, str):
            top = target.partition(":")[0].split(".")[0]
            for candidate in (base / f"{top}.py", base / top):
                if candidate.is_file() or (candidate / "__init__.py").is_file():
                    _add_path(carried, candidate, base, file=file)
            for key, value in (entry.get("with") or {}).items():
                if not (isinstance(value, str) and value.startswith(("./", "../"))):
                    continue
                path = (base / value).resolve()
                if not path.is_relative_to(base) or not path.exists():
                    carried.notes.append(
                        f"{file}: tools: with.{key}: {value} is not in the manifest's "
                        "folder (or does not exist): not carried; mount it in the pod"
                    )
                    continue
                _add_path(carried, path, base, file=file)
        mcp = entry.get("mcp")
        if isinstance(mcp, dict) and mcp.get("cwd"):
            carried.notes.append(
                f"{file}: tools: an MCP server's cwd {mcp['cwd']} is not carried; "
                "the image must hold it"
            )
        discover = entry.get("discover")
        if isinstance(discover, dict):
            carried.notes.extend(
                f"{file}: tools: discover.{key} ({discover[key]}) is not carried; "
                "mount it in the pod"
                for key in ("file", "ca")
                if discover.get(key)
            )
    return carried
