"""Reading manifests: YAML with positions, ``${VAR}`` interpolation, errors a person can act on.

Every problem is reported as ``file:line:col: what is wrong; what to write``,
and nothing a user writes ends in a traceback: whatever the YAML parser or the
schema refuses becomes a ``ManifestError``. Files, YAML and its aliases are
bounded in ``_yaml``.

Every value read from the environment is registered as a secret
(``brainjar._redact``), so no message, log, transcript or HTTP body shows it; and
a rejected value of a field that may hold one (``endpoint``, ``url``, ``port``,
``headers``, ``env``, ``api_key``, anything named like a key, token or password)
is not echoed: the message says what is wrong and where, not what was written.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from brainjar._errors import ManifestError
from brainjar._redact import register_secret

from ._models import API_VERSION, JarManifest
from ._toolservice import ToolServiceManifest
from ._yaml import VALUE, Loc, Origin, Positions, load_yaml, read_manifest_text

__all__ = [
    "KINDS",
    "VALUE",
    "Origin",
    "interpolate",
    "load_manifest",
    "load_yaml",
    "read_manifest",
    "validate_document",
]

M = TypeVar("M", bound=BaseModel)

# Every kind of document brainjar reads; registry/ adds ToolService.
KINDS: dict[str, type[BaseModel]] = {"Jar": JarManifest, "ToolService": ToolServiceManifest}

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Examples for the fields people most often get wrong, shown after the message.
_HINTS = {
    "command": "e.g. [mcp-server-time] or [python, -m, llama_cpp.server]",
    "langchain": "e.g. langchain_community.agent_toolkits:FileManagementToolkit",
    "backend": "one of llama-cpp, ollama, openai",
    "apiVersion": f"write apiVersion: {API_VERSION}",
    "port": "e.g. 8080",
}
# Fields whose rejected value is not quoted back: they may hold an address with a
# password, a token, or a value from the environment.
_QUIET = {"endpoint", "url", "port", "headers", "env", "api_key", "static"}
_QUIET_WORDS = re.compile(r"key|token|passw|secret|auth|credential", re.IGNORECASE)


def interpolate(
    data: Any, positions: Positions, *, file: str, env: Mapping[str, str] | None = None
) -> Any:
    """Replaces ``${VAR}`` and ``${VAR:-default}`` in every string; ``$$`` is a dollar.

    Raises:
        ManifestError: naming each variable that is not set and has no default.
    """
    environ = os.environ if env is None else env
    problems: list[str] = []

    def walk(node: Any, loc: Loc) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, (*loc, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(node)]
        if not isinstance(node, str) or "$" not in node:
            return node

        def sub(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in environ:
                register_secret(environ[name])
                return environ[name]
            if default is not None:
                return default
            line, col = positions.get((*loc, VALUE)) or positions.get(loc, (1, 1))
            problems.append(
                f"{file}:{line}:{col}: environment variable {name} is not set; "
                f"set it, or write ${{{name}:-default}}"
            )
            return ""

        return _VAR.sub(sub, node)

    result = walk(data, ())
    if problems:
        raise ManifestError(problems)
    return result


def validate_document(
    data: Any, positions: Positions, model: type[M], *, file: str, base_dir: Path
) -> M:
    """Validates plain data against ``model``; errors carry file:line:col."""
    try:
        return model.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ManifestError(
            [_describe(err, data, positions, model, file=file) for err in exc.errors()]
        ) from None


def load_manifest(path: str | Path, *, env: Mapping[str, str] | None = None) -> BaseModel:
    """Reads, interpolates and validates a manifest of any known kind.

    Raises:
        ManifestError: the file is missing, not YAML, or not a valid manifest.
    """
    return read_manifest(path, env=env)[0]


def read_manifest(
    path: str | Path, *, env: Mapping[str, str] | None = None
) -> tuple[BaseModel, Origin]:
    """Like ``load_manifest``, also returning where each part of it is written.

    The ``Origin`` lets later checks (a filter naming a tool its source does not
    offer) point at ``file:line:col`` too.

    Raises:
        ManifestError: the file is missing, not a regular file, too large, not
            YAML, or not a valid manifest.
    """
    path = Path(path)
    file = str(path)
    text = read_manifest_text(path, file=file)
    data, positions = load_yaml(text, file=file)
    if not isinstance(data, dict):
        raise ManifestError(
            f"{file}:1:1: a manifest is a mapping with apiVersion, kind, metadata and spec"
        )
    data = interpolate(data, positions, file=file, env=env)
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        line, col = positions.get(("kind", VALUE)) or positions.get(("kind",), (1, 1))
        known = ", ".join(sorted(KINDS))
        raise ManifestError(f"{file}:{line}:{col}: kind must be one of {known}; got {kind!r}")
    manifest = validate_document(data, positions, model, file=file, base_dir=path.parent.resolve())
    return manifest, Origin(file, positions)


def _describe(
    err: ErrorDetails, data: Any, positions: Positions, model: type[BaseModel], *, file: str
) -> str:
    loc = _data_loc(err["loc"], data)
    kind = err["type"]
    if kind == "missing":
        line, col = _position(positions, loc[:-1])
        key = loc[-1] if loc else "?"
        text = f"{_dotted(loc[:-1]) or 'the document'} is missing the required key {key!r}"
    elif kind == "extra_forbidden":
        line, col = _position(positions, loc)
        key = str(loc[-1])
        text = f"{_dotted(loc[:-1]) or 'the document'} has no key {key!r}"
        close = difflib.get_close_matches(key, _keys_at(model, err["loc"][:-1]), n=1, cutoff=0.6)
        if close:
            text += f"; did you mean {close[0]!r}?"
        else:
            allowed = _keys_at(model, err["loc"][:-1])
            if allowed:
                text += f"; it takes {', '.join(sorted(allowed))}"
    else:
        line, col = positions.get((*loc, VALUE)) or _position(positions, loc)
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        text = f"{_dotted(loc) or 'the document'}: {msg}"
        quiet = any(str(p) in _QUIET or _QUIET_WORDS.search(str(p)) for p in loc)
        if kind not in ("value_error", "tool_kind", "endpoint_kind") and "input" in err:
            text += "" if quiet else f" (got {_short(err['input'])})"
        hint = _HINTS.get(str(loc[-1])) if loc else None
        if hint and hint not in text:
            text += f"; {hint}"
    return f"{file}:{line}:{col}: {text}"


def _data_loc(loc: tuple[int | str, ...], data: Any) -> Loc:
    """The error's path through the data, without pydantic's union tags."""
    out: list[str | int] = []
    node = data
    for part in loc:
        # Two branches, not one: each narrows `part` for the type checker.
        if isinstance(node, dict) and part in node:  # noqa: SIM114
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part not in _TAGS:
            out.append(part)  # a missing or unknown key: name it
            node = None
        # else: a tag, or a path into a scalar: leave it out
    return tuple(out)


_TAGS = {"langchain", "mcp", "discover", "openai", "ollama", "grpc", "function-after"}


def _position(positions: Positions, loc: Loc) -> tuple[int, int]:
    while loc and loc not in positions:
        loc = loc[:-1]
    return positions.get(loc, (1, 1))


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the schema allows at a path, for "did you mean"."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return tp


def _step(tp: Any, part: int | str) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin = typing.get_origin(tp)
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin in (Union, types.UnionType):  # a tagged union: ``part`` is the tag
        for member in typing.get_args(tp):
            for meta in getattr(member, "__metadata__", ()):
                if getattr(meta, "tag", None) == part:
                    return typing.get_args(member)[0]
    return None
