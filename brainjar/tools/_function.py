"""``@tool``: a Python function as a brainjar tool, its schema read from its signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast, overload

import anyio.to_thread
from pydantic import TypeAdapter, ValidationError, validate_call

from brainjar._errors import BadArguments

from ._tool import Tool, ToolResult

__all__ = ["tool"]


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Makes a ``Tool`` of a function (sync or async), as pydantic reads its signature.

    The description is the docstring's first paragraph unless given. A sync
    function runs in a worker thread, so it does not hold up the event loop::

        @brainjar.tool
        def add(a: int, b: int) -> int:
            \"\"\"Adds two numbers.\"\"\"
            return a + b

        jar = Jar(manifest, extra_sources=[StaticSource([add])])
    """

    def make(fn: Callable[..., Any]) -> Tool:
        checked = validate_call(fn)
        schema = TypeAdapter(cast(Any, checked)).json_schema()
        schema.pop("title", None)
        schema.pop("additionalProperties", None)
        doc = inspect.getdoc(fn) or ""
        text = description if description is not None else doc.split("\n\n", 1)[0].strip()
        is_async = inspect.iscoroutinefunction(fn)

        async def call(arguments: dict[str, Any]) -> ToolResult:
            try:
                if is_async:
                    value = await checked(**arguments)
                else:
                    value = await anyio.to_thread.run_sync(lambda: checked(**arguments))
            except ValidationError as exc:
                raise BadArguments(f"bad arguments for {fn.__name__}: {exc}") from None
            return ToolResult.of(value)

        return Tool(
            name=name or fn.__name__,
            description=text or (name or fn.__name__),
            parameters=schema,
            call=call,
            source=f"python:{fn.__module__}.{fn.__qualname__}",
        )

    if function is not None:
        return make(function)
    return make
