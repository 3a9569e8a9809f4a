"""The published JSON Schema of each manifest kind (``brainjar schema``)."""

from __future__ import annotations

import json
from typing import Any

from ._load import KINDS

__all__ = ["schema", "schema_json"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema(kind: str = "Jar") -> dict[str, Any]:
    """The JSON Schema of a manifest kind.

    Raises:
        KeyError: no such kind.
    """
    body = KINDS[kind].model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, **body}


def schema_json(kind: str = "Jar") -> str:
    """The schema as the text ``manifests/`` keeps, stable between runs."""
    return json.dumps(schema(kind), indent=2, sort_keys=True) + "\n"
