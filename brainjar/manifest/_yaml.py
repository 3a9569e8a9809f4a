"""From a manifest file to plain data with the position of every key and item.

What a manifest file may be is bounded before anything is parsed (a regular
file of at most ``MAX_MANIFEST_BYTES``), and what its aliases may expand to is
bounded while the plain data is made (``MAX_ALIAS_USES``, ``MAX_EXPANDED_SIZE``),
so a YAML bomb, ``/dev/zero`` or a FIFO is a message, not a hang or a
``MemoryError``. Merge keys (``<<: *base``) are supported: a merged key's
position is where it is written, in the mapping it was merged from.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent

from brainjar._errors import ManifestError

__all__ = [
    "MAX_ALIAS_USES",
    "MAX_DEPTH",
    "MAX_EXPANDED_SIZE",
    "MAX_MANIFEST_BYTES",
    "VALUE",
    "Loc",
    "Origin",
    "Positions",
    "load_yaml",
    "read_manifest_text",
]

Loc = tuple[str | int, ...]
Positions = dict[Loc, tuple[int, int]]

# Marks, at the end of a path, the position of a scalar value rather than its key.
VALUE = -1
# A manifest is a few kilobytes; anything this large is a wrong file.
MAX_MANIFEST_BYTES = 1024 * 1024
# Aliases (``*name``) a document may use; a real manifest uses a handful.
MAX_ALIAS_USES = 1000
# Values plus characters of text once every alias is expanded: no document of at
# most MAX_MANIFEST_BYTES comes near it without aliases multiplying its content.
MAX_EXPANDED_SIZE = 4 * MAX_MANIFEST_BYTES
MAX_DEPTH = 64


@dataclass(frozen=True)
class Origin:
    """Where a loaded manifest came from: its file and the position of every path in it."""

    file: str
    positions: Positions

    def where(self, loc: Loc) -> str:
        """``file:line:col`` of the value at ``loc``, or of the nearest enclosing one."""
        found = self.positions.get((*loc, VALUE)) or self.positions.get(loc)
        while found is None and loc:
            loc = loc[:-1]
            found = self.positions.get(loc)
        line, col = found or (1, 1)
        return f"{self.file}:{line}:{col}"


def read_manifest_text(path: Path, *, file: str) -> str:
    """The text of a manifest file, refusing what cannot be one.

    Raises:
        ManifestError: the file is missing, not a regular file (a FIFO, a device,
            a folder), larger than ``MAX_MANIFEST_BYTES``, or not UTF-8.
    """
    try:
        _check_stat(os.stat(path), file=file)
        # O_NONBLOCK: should the path become a FIFO after the check, opening it does
        # not wait for a writer, and fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ManifestError(f"{file}: no such file") from None
    except OSError as exc:
        raise ManifestError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            _check_stat(os.fstat(fd), file=file)
            data = handle.read(MAX_MANIFEST_BYTES + 1)
        except OSError as exc:
            raise ManifestError(f"{file}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_MANIFEST_BYTES:  # it grew after the check
        raise ManifestError(_too_large(file))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"{file}: cannot read it: byte {exc.start} is not UTF-8; save the file as UTF-8"
        ) from None


def _check_stat(st: os.stat_result, *, file: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = (
            "a folder"
            if stat.S_ISDIR(st.st_mode)
            else "a FIFO"
            if stat.S_ISFIFO(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )
        raise ManifestError(f"{file}: this is {what}, not a manifest; give the path of a YAML file")
    if st.st_size > MAX_MANIFEST_BYTES:
        raise ManifestError(_too_large(file))


def _too_large(file: str) -> str:
    return (
        f"{file}: the file is larger than {MAX_MANIFEST_BYTES} bytes (MAX_MANIFEST_BYTES), "
        "too large for a manifest; check that this is the right file"
    )


class _Refused(Exception):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _CountingComposer(Composer):
    """The round-trip composer, refusing a document past ``MAX_ALIAS_USES`` aliases."""

    alias_uses = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            self.alias_uses += 1
            if self.alias_uses > MAX_ALIAS_USES:
                raise _Refused(
                    self.parser.peek_event().start_mark,
                    f"more than {MAX_ALIAS_USES} aliases (*name) in one document "
                    "(MAX_ALIAS_USES); write the values out instead",
                )
        return super().compose_node(parent, index)


def load_yaml(text: str, *, file: str) -> tuple[Any, Positions]:
    """Parses YAML and records where every key and item stands.

    Returns:
        The plain data (dicts, lists, scalars) and a map from each path to its
        1-based (line, column).

    Raises:
        ManifestError: the text is not YAML, uses too many aliases, or expands to
            more than ``MAX_EXPANDED_SIZE``.
    """
    yaml = YAML(typ="rt")
    yaml.Composer = _CountingComposer
    try:
        tree = yaml.load(text)
    except _Refused as exc:
        where = f"{file}:{exc.mark.line + 1}:{exc.mark.column + 1}" if exc.mark else f"{file}:1:1"
        raise ManifestError(f"{where}: {exc.message}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else f"{file}:1:1"
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ManifestError(f"{where}: this is not valid YAML: {problem}") from None
    except RecursionError:
        raise ManifestError(
            f"{file}:1:1: nested deeper than {MAX_DEPTH} levels; flatten the document"
        ) from None
    except Exception as exc:  # the parser's other refusals are user errors too
        raise ManifestError(f"{file}:1:1: this is not valid YAML: {exc}") from None
    _expanded_size(tree, {}, set(), file=file, depth=0)
    positions: Positions = {(): (1, 1)}
    return _Plain(file, positions).make(tree, (), depth=0), positions


def _expanded_size(
    node: Any, sizes: dict[int, int], open_: set[int], *, file: str, depth: int
) -> int:
    """Values plus characters ``node`` becomes once aliases are expanded.

    Each node is sized once (an alias is the same object as its anchor), so a
    billion-laughs document is measured, and refused, without expanding it.
    """
    if isinstance(node, str):
        return 1 + len(node)
    if not isinstance(node, CommentedMap | CommentedSeq):
        return 1
    known = sizes.get(id(node))
    if known is not None:
        return known
    if id(node) in open_ or depth > MAX_DEPTH:
        line, col = node.lc.line + 1, node.lc.col + 1
        raise ManifestError(
            f"{file}:{line}:{col}: nested deeper than {MAX_DEPTH} levels, or an alias "
            "(*name) inside its own anchor (&name); flatten the document"
        )
    open_.add(id(node))
    children = (
        [x for pair in node.items() for x in pair] if isinstance(node, CommentedMap) else node
    )
    size = 1 + sum(
        _expanded_size(child, sizes, open_, file=file, depth=depth + 1) for child in children
    )
    open_.discard(id(node))
    if size > MAX_EXPANDED_SIZE:
        line, col = node.lc.line + 1, node.lc.col + 1
        raise ManifestError(
            f"{file}:{line}:{col}: this expands to more than {MAX_EXPANDED_SIZE} values and "
            "characters once its aliases (*name) are expanded (MAX_EXPANDED_SIZE); "
            "use fewer aliases or write the values out"
        )
    sizes[id(node)] = size
    return size


class _Plain:
    """Makes plain data of ruamel's round-trip nodes, recording their positions."""

    def __init__(self, file: str, positions: Positions) -> None:
        self.file = file
        self.positions = positions

    def _refuse(self, loc: Loc, message: str) -> ManifestError:
        line, col = self.positions.get(loc, (1, 1))
        return ManifestError(f"{self.file}:{line}:{col}: {message}")

    def make(self, node: Any, loc: Loc, *, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self._refuse(loc, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, CommentedMap):
            return self._mapping(node, loc, depth=depth)
        if isinstance(node, CommentedSeq):
            items = []
            for i, value in enumerate(node):
                line, col = node.lc.item(i)
                self.positions[(*loc, i)] = (line + 1, col + 1)
                items.append(self.make(value, (*loc, i), depth=depth + 1))
            return items
        if isinstance(node, str):
            return str(node)  # ruamel's scalar string subclasses carry style, not meaning
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, int):
            return int(node)  # ruamel's ScalarInt and friends become plain numbers
        if isinstance(node, float):
            return float(node)
        return str(node)  # timestamps and the like: text, and the schema says if that is wrong

    def _mapping(self, node: CommentedMap, loc: Loc, *, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise self._refuse(loc, "keys must be plain words")
            k = str(key)
            owner = _owner(node, key)
            if owner is not None:
                line, col = owner.lc.key(key)
                self.positions[(*loc, k)] = (line + 1, col + 1)
                if not isinstance(value, CommentedMap | CommentedSeq):
                    line, col = owner.lc.value(key)
                    self.positions[(*loc, k, VALUE)] = (line + 1, col + 1)
            out[k] = self.make(value, (*loc, k), depth=depth + 1)
        return out


def _owner(node: CommentedMap, key: Any, depth: int = 0) -> CommentedMap | None:
    """The mapping ``key`` is written in: ``node``, or one merged into it (``<<: *x``)."""
    if key in (node.lc.data or {}):  # None in a mapping that has only merged keys
        return node
    if depth > MAX_DEPTH:
        return None
    for item in getattr(node, merge_attrib, ()):
        # ruamel keeps merged mappings bare, or as (index, mapping) in older releases.
        merged = item[1] if isinstance(item, tuple) else item
        if isinstance(merged, CommentedMap) and key in merged:
            return _owner(merged, key, depth + 1)
    return None
