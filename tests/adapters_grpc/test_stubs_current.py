"""The checked-in gRPC stubs are what protoc makes from the proto now."""

from __future__ import annotations

from brainjar.adapters.grpc._generate import HERE, generate


def test_stubs_match_the_proto() -> None:
    for name, text in generate().items():
        checked_in = (HERE / name).read_text(encoding="utf-8")
        assert checked_in == text, (
            f"{name} is stale: run python -m brainjar.adapters.grpc._generate and commit it"
        )
