"""Durations as people write them in a manifest: ``30s``, ``2m``, ``1h30m``, ``250ms``, ``5``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["Duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h))+$"


def parse_duration(value: Any) -> float:
    """Seconds in a duration: a number of seconds or a string such as ``1m30s``.

    Raises:
        ValueError: with an example of what to write instead.
    """
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or a string like 30s")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(PATTERN, text):
            return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        try:
            return parse_duration(float(text))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 30s, 2m or 1h")


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PATTERN, "examples": ["30s", "2m", "500ms"]},
                {"type": "number", "minimum": 0},
            ],
            "description": "seconds, or a duration such as 30s, 2m, 500ms",
        }
    ),
]
