"""BFCL's AST checker for Python function calls, ported rule for rule.

``bfcl-eval`` (2026.3.23) holds the checker in
``bfcl_eval/eval_checker/ast_eval/ast_checker.py``, but importing it pulls in
every provider SDK it supports (its model-config table imports them). This is a
faithful port of its Python path: the same functions, the same order of
checks, the same string standardisation; Java/JavaScript conversion is left out
(those categories are not run). ``model_output`` is a list of
``{function_name: {argument: value}}``; ``possible_answer`` is BFCL's ground
truth, a list of ``{function_name: {argument: [accepted values]}}`` where ``""``
among the values marks an optional argument.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ast_check"]

PYTHON_TYPE_MAPPING: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
PYTHON_NESTED_TYPE_CHECK_LIST = ["array", "tuple"]

Result = dict[str, Any]


def ast_check(
    functions: list[dict[str, Any]],
    model_output: list[dict[str, Any]],
    possible_answer: list[dict[str, Any]],
    category: str,
) -> Result:
    """BFCL's verdict on one question: ``{"valid": bool, "error": [...], ...}``."""
    if "parallel" in category:
        return _parallel_no_order(functions, model_output, possible_answer)
    if "multiple" in category:
        return _multiple(functions, model_output, possible_answer)
    if len(model_output) != 1:
        return {"valid": False, "error": ["Wrong number of functions."]}
    return _simple(functions[0], model_output[0], possible_answer[0])


def _find(functions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for function in functions:
        if function["name"] == name:
            return function
    return None


def _answer_type(possible: list[Any]) -> type | None:
    for answer in possible:
        if answer != "":
            return type(answer)
    return None


def _type_check(
    param: str, value: Any, possible: list[Any], expected: type, nested: type | None
) -> Result:
    result: Result = {"valid": True, "error": [], "is_variable": False}
    is_variable = False
    answer_type = _answer_type(possible)
    if answer_type is not None and answer_type != expected:
        is_variable = True
    if type(value) is expected:
        if nested is None:
            result["is_variable"] = is_variable
            return result
        for item in possible:
            ok = True
            if type(item) is list:
                for value_item in value:
                    if not _type_check(param, value_item, item, nested, None)["valid"]:
                        ok = False
                        break
            if ok:
                return {"valid": True, "error": [], "is_variable": is_variable}
        result["valid"] = False
        result["error"] = [f"Nested type checking failed for parameter {param!r}."]
    answer_type = _answer_type(possible)
    if answer_type is not None and type(value) is answer_type:
        result["is_variable"] = True
        return result
    result["valid"] = False
    result["error"].append(f"Incorrect type for parameter {param!r}: {value!r}.")
    return result


def _standardize(text: str) -> str:
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _string_check(param: str, value: str, possible: list[Any]) -> Result:
    accepted = [_standardize(p) for p in possible if type(p) is str]
    if _standardize(value) not in accepted:
        return {"valid": False, "error": [f"Invalid value for {param!r}: {value!r}."]}
    return {"valid": True, "error": []}


def _list_check(param: str, value: list[Any], possible: list[Any]) -> Result:
    given = [_standardize(v) if type(v) is str else v for v in value]
    accepted = [[_standardize(v) if type(v) is str else v for v in p] for p in possible]
    if given not in accepted:
        return {"valid": False, "error": [f"Invalid value for {param!r}: {value!r}."]}
    return {"valid": True, "error": []}


def _dict_check(param: str, value: dict[str, Any], possible: list[Any]) -> Result:
    result: Result = {"valid": False, "error": []}
    for answer in possible:
        if answer == "":
            continue
        result = {"valid": False, "error": []}
        ok = True
        for key, item in value.items():
            if key not in answer:
                result["error"].append(f"Unexpected dict key parameter: {key!r}.")
                ok = False
                break
            given = _standardize(item) if type(item) is str else item
            accepted = [_standardize(a) if type(a) is str else a for a in answer[key]]
            if given not in accepted:
                result["error"].append(f"Invalid value for parameter {key!r}: {item!r}.")
                ok = False
                break
        for key, accepted_values in answer.items():
            if key not in value and "" not in accepted_values:
                result["error"].append(f"Missing dict key parameter: {key!r}.")
                ok = False
                break
        if ok:
            return {"valid": True, "error": []}
    return result


def _list_dict_check(param: str, value: list[Any], possible: list[Any]) -> Result:
    result: Result = {"valid": False, "error": []}
    for answer in possible:
        ok = True
        if len(value) != len(answer):
            result = {"valid": False, "error": ["Wrong number of dictionaries in the list."]}
            continue
        for index, item in enumerate(value):
            result = _dict_check(param, item, [answer[index]])
            if not result["valid"]:
                ok = False
                break
        if ok:
            return {"valid": True, "error": []}
    return result


def _simple(function: dict[str, Any], output: dict[str, Any], answer: dict[str, Any]) -> Result:
    possible: dict[str, list[Any]] = next(iter(answer.values()))
    name = function["name"]
    details = function["parameters"]["properties"]
    required = function["parameters"].get("required", [])
    if name not in output:
        return {"valid": False, "error": [f"Function name {name!r} not found in model output."]}
    params = output[name]
    for param in required:
        if param not in params:
            return {"valid": False, "error": [f"Missing required parameter: {param!r}."]}
    for param, given in params.items():
        value = given
        if param not in details or param not in possible:
            return {"valid": False, "error": [f"Unexpected parameter: {param!r}."]}
        kind = details[param]["type"]
        expected = PYTHON_TYPE_MAPPING[kind]
        nested = None
        if kind in PYTHON_NESTED_TYPE_CHECK_LIST:
            nested = PYTHON_TYPE_MAPPING[details[param]["items"]["type"]]
        if kind == "tuple" and type(value) is tuple:
            value = list(value)
        if kind == "float" and type(value) is int:
            value = float(value)
        checked = _type_check(param, value, possible[param], expected, nested)
        if not checked["valid"]:
            return checked
        if not checked["is_variable"]:
            special = None
            if expected is dict:
                special = _dict_check(param, value, possible[param])
            elif expected is list and nested is dict:
                special = _list_dict_check(param, value, possible[param])
            elif expected is str:
                special = _string_check(param, value, possible[param])
            elif expected is list:
                special = _list_check(param, value, possible[param])
            if special is not None:
                if not special["valid"]:
                    return special
                continue
        if value not in possible[param]:
            return {"valid": False, "error": [f"Invalid value for {param!r}: {value!r}."]}
    for param in possible:
        if param not in params and "" not in possible[param]:
            return {"valid": False, "error": [f"Optional parameter {param!r} not provided."]}
    return {"valid": True, "error": []}


def _parallel_no_order(
    functions: list[dict[str, Any]], output: list[dict[str, Any]], answers: list[dict[str, Any]]
) -> Result:
    if len(output) != len(answers):
        return {"valid": False, "error": ["Wrong number of functions."]}
    matched: list[int] = []
    for answer in answers:
        function = _find(functions, next(iter(answer)))
        result: Result = {"valid": False, "error": ["no model output left to match"]}
        for index, item in enumerate(output):
            if index in matched or function is None:
                continue
            result = _simple(function, item, answer)
            if result["valid"]:
                matched.append(index)
                break
        if not result["valid"]:
            return {"valid": False, "error": ["Could not find a matching function.", result]}
    return {"valid": True, "error": []}


def _multiple(
    functions: list[dict[str, Any]], output: list[dict[str, Any]], answers: list[dict[str, Any]]
) -> Result:
    if len(output) != len(answers):
        return {"valid": False, "error": ["Wrong number of functions."]}
    function = _find(functions, next(iter(answers[0])))
    if function is None:
        return {"valid": False, "error": ["The expected function is not offered."]}
    return _simple(function, output[0], answers[0])
