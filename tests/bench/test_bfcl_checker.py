"""The port of BFCL's AST checker, against BFCL's own possible answers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bfcl_checker import ast_check

TRIANGLE = {
    "name": "calculate_triangle_area",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer"},
            "height": {"type": "integer"},
            "unit": {"type": "string"},
        },
        "required": ["base", "height"],
    },
}
TRIANGLE_ANSWER = [
    {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}
]


def test_the_rules_on_a_simple_question() -> None:
    def check(arguments: dict[str, Any]) -> bool:
        output = [{"calculate_triangle_area": arguments}]
        return bool(ast_check([TRIANGLE], output, TRIANGLE_ANSWER, "simple_python")["valid"])

    assert check({"base": 10, "height": 5})  # an optional argument left out
    assert check({"base": 10, "height": 5, "unit": "Units"})  # strings: case and punctuation
    assert not check({"base": 10, "height": 6})
    assert not check({"base": 10.0, "height": 5})  # an integer is an integer
    assert not check({"base": 10})
    assert not check({"base": 10, "height": 5, "color": "red"})
    two = [{"calculate_triangle_area": {"base": 10, "height": 5}}] * 2
    assert not ast_check([TRIANGLE], two, TRIANGLE_ANSWER, "simple_python")["valid"]


def _data() -> Path | None:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _pick(value: Any) -> Any:
    """An accepted value as a model writes it: dicts hold lists of accepted values too."""
    if isinstance(value, dict):
        return {k: _pick(v[0]) for k, v in value.items() if v and v[0] != ""}
    if isinstance(value, list):
        return [_pick(v) for v in value]
    return value


def _first_accepted(
    ground_truth: list[dict[str, Any]], functions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A model output made of the first accepted (non-empty) value of each argument.

    A few answers accept an argument the function does not have; it is left out.
    """
    known = {f["name"]: f["parameters"]["properties"] for f in functions}
    out = []
    for call in ground_truth:
        ((name, params),) = call.items()
        given = {k: [x for x in v if x != ""] for k, v in params.items() if k in known[name]}
        out.append({name: {k: _pick(v[0]) for k, v in given.items() if v}})
    return out


@pytest.mark.skipif(_data() is None, reason="BFCL's data: pip install --no-deps bfcl-eval")
@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel", "parallel_multiple"])
def test_bfcl_possible_answers_pass_and_a_changed_one_fails(category: str) -> None:
    data = _data()
    assert data is not None
    lines = (data / f"BFCL_v4_{category}.json").read_text().splitlines()
    questions = {q["id"]: q for q in map(json.loads, lines)}
    answers = (data / "possible_answer" / f"BFCL_v4_{category}.json").read_text().splitlines()
    failed = []
    for item in map(json.loads, answers):
        functions = questions[item["id"]]["function"]
        output = _first_accepted(item["ground_truth"], functions)
        if not ast_check(functions, output, item["ground_truth"], category)["valid"]:
            failed.append(item["id"])
        assert not ast_check(
            functions, [*output[:-1], {"nope": {}}], item["ground_truth"], category
        )["valid"]
    assert not failed, failed
