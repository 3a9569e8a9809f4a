"""Scripts written as YAML or JSON files, for ``python -m brainjar.testing``.

A file holds a list of steps, or ``{steps: [...], repeat: true}``::

    - call: {name: add, arguments: {a: 1, b: 2}}
    - calls:
        - {name: add, arguments: {a: 1, b: 2}}
        - {name: mul, arguments: '{"a": 3'}     # a string is sent verbatim
    - reply: "The answer is 3."
    - reply: {text: "slow answer", delay: 2, chunks: 3, pace: 0.05}
    - fail: {status: 503, message: overloaded}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ._script import ScriptedCall, ScriptedModel, Step, calls, fail, reply

__all__ = ["load_script"]

_KINDS = ("reply", "call", "calls", "fail")


def load_script(path: str | Path) -> ScriptedModel:
    """Reads a script file (YAML or JSON).

    Raises:
        ValueError: the file cannot be read or is not a script; the message
            names the file and the step.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = (
            json.loads(text) if path.suffix == ".json" else YAML(typ="safe", pure=True).load(text)
        )
    except (OSError, ValueError, YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the script: {exc}") from None
    repeat = False
    if isinstance(data, dict):
        repeat = bool(data.get("repeat", False))
        data = data.get("steps")
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a list of steps, e.g. - reply: hello")
    return ScriptedModel(
        [_step(item, where=f"{path}: steps[{i}]") for i, item in enumerate(data)], repeat=repeat
    )


def _step(item: Any, *, where: str) -> Step:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping with one of {', '.join(_KINDS)}")
    kinds = [k for k in _KINDS if k in item]
    if len(kinds) != 1:
        raise ValueError(f"{where}: expected exactly one of {', '.join(_KINDS)}, got {kinds}")
    kind = kinds[0]
    value = item[kind]
    delay = float(item.get("delay", 0))
    try:
        if kind == "reply":
            pace = float(item.get("pace", 0))
            if isinstance(value, dict):
                return reply(
                    str(value["text"]),
                    delay=float(value.get("delay", delay)),
                    chunks=value.get("chunks", item.get("chunks")),
                    pace=float(value.get("pace", pace)),
                )
            return reply(str(value), delay=delay, chunks=item.get("chunks"), pace=pace)
        if kind == "call":
            return calls(_call(value), delay=delay)
        if kind == "calls":
            if not isinstance(value, list) or not value:
                raise ValueError("calls: expected a list of {name, arguments}")
            return calls(*(_call(v) for v in value), delay=delay, text=str(item.get("text", "")))
        if isinstance(value, int):
            return fail(value, delay=delay)
        if isinstance(value, str):
            return fail(message=value, delay=delay)
        if isinstance(value, dict):
            return fail(
                int(value.get("status", 500)),
                str(value.get("message", "scripted failure")),
                delay=float(value.get("delay", delay)),
            )
        raise ValueError("fail: expected a status, a message, or {status, message}")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {kind}: {exc}") from None


def _call(value: Any) -> ScriptedCall:
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError("expected {name: ..., arguments: {...}}")
    arguments = value.get("arguments", {})
    if not isinstance(arguments, dict | str):
        raise ValueError("arguments: expected a mapping, or a string sent verbatim")
    call_id = value.get("id")
    return ScriptedCall(
        name=str(value["name"]),
        arguments=arguments,
        id=None if call_id is None else str(call_id),
    )
