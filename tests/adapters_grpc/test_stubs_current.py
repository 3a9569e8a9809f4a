"""The checked-in gRPC stubs are what protoc makes from the proto now."""

from __future__ import annotations

import re

from brainjar.adapters.grpc._generate import HERE, generate

# The generator's own version, stamped into the stubs: a grpcio-tools patch release
# changes these lines and nothing else, so they are not part of the comparison.
STAMPS = [
    (re.compile(r"GRPC_GENERATED_VERSION = '[^']*'"), "GRPC_GENERATED_VERSION = '*'"),
    (re.compile(r"# Protobuf Python Version: .*"), "# Protobuf Python Version: *"),
    (
        re.compile(r"(Domain\.PUBLIC,\n)\s*\d+,\n\s*\d+,\n\s*\d+,\n\s*'[^']*',\n"),
        r"\1    *\n",
    ),
]


def _unstamped(text: str) -> str:
    for pattern, replacement in STAMPS:
        text = pattern.sub(replacement, text)
    return text


def test_stubs_match_the_proto() -> None:
    for name, text in generate().items():
        checked_in = (HERE / name).read_text(encoding="utf-8")
        assert _unstamped(checked_in) == _unstamped(text), (
            f"{name} is stale: run python -m brainjar.adapters.grpc._generate and commit it"
        )


def test_only_the_version_stamps_are_left_out() -> None:
    stub = (HERE / "tool_service_pb2.py").read_text(encoding="utf-8")
    other = stub.replace("'tool_service.proto'", "'another.proto'")
    assert _unstamped(stub) != _unstamped(other)
    restamped = re.sub(r"Domain\.PUBLIC,\n    \d+,", "Domain.PUBLIC,\n    99,", stub)
    assert restamped != stub and _unstamped(restamped) == _unstamped(stub)
