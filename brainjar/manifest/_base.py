"""What every part of the manifest shares: strict models, paths resolved against the
manifest's folder, the metadata, and telling a union's members apart by their key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo

__all__ = [
    "API_VERSION",
    "NAME_PATTERN",
    "Metadata",
]


API_VERSION = "brainjar.dev/v1"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def _resolve(path: str | Path | None, info: ValidationInfo) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else (_base_dir(info) / p).resolve()


class Metadata(_Strict):
    """Who the jar is: a name, labels for selectors, annotations for schedulers."""

    name: str = Field(
        pattern=NAME_PATTERN, max_length=63, description="lower-case, e.g. file-clerk"
    )
    description: str | None = None
    version: str = "0.1.0"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


def _by_key(members: dict[str, type[BaseModel]]) -> Callable[[Any], str | None]:
    """Tells the members of a union apart by the one key each has (``- mcp: {...}``)."""

    def kind(value: Any) -> str | None:
        if isinstance(value, dict):
            return next((key for key in members if key in value), None)
        return next((key for key, cls in members.items() if isinstance(value, cls)), None)

    return kind
