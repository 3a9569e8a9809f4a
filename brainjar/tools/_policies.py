"""One wrapper per call policy, written once and composed wherever tools are called.

The loop, the MCP gateway, the gRPC tool server and ``serve-tools`` all call a
tool through ``apply_policy``; each renders the typed ``ToolError`` it may raise
in its own protocol (a tool message, an MCP error result, a gRPC status).

Order, from the caller inwards: size of the arguments, schema check, approval,
time limit, size of the result, and innermost ``guarded``, which turns whatever
the tool raises (``SystemExit`` included) into a ``ToolError``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import anyio
import jsonschema

from brainjar._errors import BadArguments, ToolError, ToolTimeout, ToolTooLarge

from ._tool import Tool, ToolResult

__all__ = [
    "Approval",
    "ToolPolicy",
    "apply_policy",
    "approved",
    "argument_limited",
    "guarded",
    "result_limited",
    "schema_problem",
    "time_limited",
    "truncate",
    "validated",
]

Approval = Callable[[Tool, dict[str, Any]], Awaitable[bool]]
"""Says whether one call may run; a refusal is a tool error the model reads."""

# What the model reads where a long result was cut.
TRUNCATED = "\n[brainjar: the result was cut to {kept} of its {size} bytes]"


@dataclass(frozen=True, kw_only=True)
class ToolPolicy:
    """What a call may take. ``None`` everywhere is no limit.

    Attributes:
        timeout: seconds a call may run.
        max_argument_bytes: the arguments' JSON, in bytes.
        max_result_bytes: the result's text, in bytes.
        truncate_results: cut a long result (with a marker) instead of failing the call.
        validate: check the arguments against the tool's schema first.
        approve: asked before each call.
    """

    timeout: float | None = None
    max_argument_bytes: int | None = None
    max_result_bytes: int | None = None
    truncate_results: bool = True
    validate: bool = True
    approve: Approval | None = None


def apply_policy(tool: Tool, policy: ToolPolicy) -> Tool:
    """The tool with every limit of ``policy`` around its call."""
    wrapped = guarded(tool)
    if policy.max_result_bytes is not None:
        wrapped = result_limited(
            wrapped, policy.max_result_bytes, truncate_results=policy.truncate_results
        )
    if policy.timeout is not None:
        wrapped = time_limited(wrapped, policy.timeout)
    if policy.approve is not None:
        wrapped = approved(wrapped, policy.approve)
    if policy.validate:
        wrapped = validated(wrapped)
    if policy.max_argument_bytes is not None:
        wrapped = argument_limited(wrapped, policy.max_argument_bytes)
    return wrapped


def guarded(tool: Tool) -> Tool:
    """Whatever the call raises becomes a ``ToolError``; cancellation passes through.

    ``SystemExit`` (argparse, click) and ``KeyboardInterrupt`` raised inside a
    tool's thread are the tool's failure, not a reason to stop the jar.
    """
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        try:
            return ToolResult.of(await inner(arguments))
        except anyio.get_cancelled_exc_class():
            raise
        except ToolError:
            raise
        except (SystemExit, KeyboardInterrupt) as exc:
            raise ToolError(
                f"{tool.name} tried to end the process ({type(exc).__name__}: {exc}); "
                "brainjar kept running"
            ) from None
        except Exception as exc:
            raise ToolError(f"{tool.name} raised {type(exc).__name__}: {exc}") from exc

    return replace(tool, call=call)


def time_limited(tool: Tool, seconds: float) -> Tool:
    """The call is cancelled after ``seconds``; then ``ToolTimeout``."""
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        with anyio.move_on_after(seconds) as scope:
            return await inner(arguments)
        assert scope.cancelled_caught
        raise ToolTimeout(f"{tool.name} did not finish within {seconds:g}s", limit="timeout")

    return replace(tool, call=call)


def validated(tool: Tool) -> Tool:
    """The arguments are checked against the tool's JSON Schema first; else ``BadArguments``."""
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        problem = schema_problem(tool.parameters, arguments)
        if problem is not None:
            raise BadArguments(f"bad arguments for {tool.name}: {problem}")
        return await inner(arguments)

    return replace(tool, call=call)


def argument_limited(tool: Tool, max_bytes: int) -> Tool:
    """Arguments whose JSON is over ``max_bytes`` are refused with ``ToolTooLarge``."""
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        size = len(json.dumps(arguments, ensure_ascii=False, default=str).encode())
        if size > max_bytes:
            raise ToolTooLarge(
                f"the arguments of {tool.name} are {size} bytes; at most {max_bytes} are taken",
                limit="max_argument_bytes",
            )
        return await inner(arguments)

    return replace(tool, call=call)


def result_limited(tool: Tool, max_bytes: int, *, truncate_results: bool = True) -> Tool:
    """A result over ``max_bytes`` is cut with a visible marker, or refused."""
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        result = await inner(arguments)
        size = len(result.content.encode())
        if size <= max_bytes:
            return result
        if not truncate_results:
            raise ToolTooLarge(
                f"the result of {tool.name} is {size} bytes; at most {max_bytes} are sent",
                limit="max_result_bytes",
            )
        return replace(result, content=truncate(result.content, max_bytes), data=None, raw=None)

    return replace(tool, call=call)


def truncate(text: str, max_bytes: int) -> str:
    """``text`` cut to about ``max_bytes`` bytes of UTF-8, with a marker saying so."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    kept = data[:max_bytes].decode("utf-8", errors="ignore")
    return kept + TRUNCATED.format(kept=len(kept.encode()), size=len(data))


def approved(tool: Tool, approve: Approval) -> Tool:
    """Each call runs only if ``approve`` says yes."""
    inner = tool.call

    async def call(arguments: dict[str, Any]) -> ToolResult:
        if not await approve(tool, arguments):
            raise ToolError(f"the call to {tool.name} was not approved")
        return await inner(arguments)

    return replace(tool, call=call)


def schema_problem(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """What is wrong with ``arguments`` under ``schema``, or None when they fit.

    A schema that is itself broken is not held against the call: the tool judges.
    """
    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    if validator is None:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return None
    return cls(schema)
