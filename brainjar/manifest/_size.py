"""Sizes as people write them in a manifest: ``4096``, ``512KiB``, ``1MiB``, ``2MB``, ``1Gi``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["Size", "parse_size"]

# Binary units (KiB, Ki) are powers of 1024; decimal ones (kB, K) powers of 1000.
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
}
PATTERN = r"^\s*(\d+(\.\d+)?)\s*([kKmMgG]([iI])?[bB]?|[bB])?\s*$"


def parse_size(value: Any) -> int:
    """Bytes in a size: a whole number of bytes or a string such as ``512KiB``.

    Raises:
        ValueError: with an example of what to write instead.
    """
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string like 512KiB")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value}")
        return value
    if isinstance(value, float) and value.is_integer():
        return parse_size(int(value))
    if isinstance(value, str):
        match = re.fullmatch(PATTERN, value)
        if match:
            size = float(match.group(1)) * _UNITS[(match.group(3) or "").lower()]
            if size.is_integer():
                return int(size)
            raise ValueError(f"{value!r} is not a whole number of bytes; write e.g. 1536KiB")
    raise ValueError(f"{value!r} is not a size; write e.g. 4096, 512KiB, 1MiB or 2MB")


Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PATTERN, "examples": ["512KiB", "1MiB", "4096"]},
                {"type": "integer", "minimum": 0},
            ],
            "description": "bytes, or a size such as 512KiB, 1MiB, 2MB",
        }
    ),
]
