"""Regenerates the checked-in stubs from ``tool_service.proto``.

Run ``python -m brainjar.adapters.grpc._generate`` after editing the proto;
``tests/adapters_grpc/test_stubs_current.py`` fails while they differ.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

__all__ = ["HERE", "PROTO", "STUBS", "generate", "main"]

HERE = Path(__file__).resolve().parent
PROTO = "tool_service.proto"
STUBS = ("tool_service_pb2.py", "tool_service_pb2.pyi", "tool_service_pb2_grpc.py")
# Generated code is not ours to lint or type-check; the header says so to both tools.
_HEADER = (
    "# Generated from tool_service.proto by _generate.py; do not edit.\n"
    "# ruff: noqa\n"
    "# mypy: ignore-errors\n"
)


def generate() -> dict[str, str]:
    """The stubs' text as protoc makes them now, by file name."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as out:
        code = protoc.main(
            [
                "protoc",
                f"-I{HERE}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(HERE / PROTO),
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed on {HERE / PROTO} (exit {code})")
        stubs = {name: (Path(out) / name).read_text(encoding="utf-8") for name in STUBS}
    # protoc imports siblings as top-level modules; inside a package they are relative.
    stubs["tool_service_pb2_grpc.py"] = re.sub(
        r"^import tool_service_pb2 as",
        "from . import tool_service_pb2 as",
        stubs["tool_service_pb2_grpc.py"],
        flags=re.M,
    )
    return {name: _HEADER + text for name, text in stubs.items()}


def main() -> None:
    """Writes the stubs next to the proto."""
    for name, text in generate().items():
        (HERE / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
