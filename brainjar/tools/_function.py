"""``@tool``: a Python function as a brainjar tool, its schema read from its signature."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast, overload

from pydantic import TypeAdapter, ValidationError, validate_call

from brainjar._errors import BadArguments, ToolError

from ._threads import TOOL_THREADS, ToolThreads
from ._tool import Tool, ToolResult

__all__ = ["tool"]


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    threads: ToolThreads | int = TOOL_THREADS,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    threads: ToolThreads | int = TOOL_THREADS,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Makes a ``Tool`` of a function (sync or async), as pydantic reads its signature.

    The description is the docstring's first paragraph unless given. A sync
    function runs in a thread of its own pool (``ToolThreads``), so it does not
    hold up the event loop, a call that times out gives up on it at once, and
    one that hangs holds only its own pool's threads::

        @brainjar.tool
        def add(a: int, b: int) -> int:
            \"\"\"Adds two numbers.\"\"\"
            return a + b

        jar = Jar(manifest, extra_sources=[StaticSource([add])])

    Args:
        function: the function, when used as ``@tool`` without arguments.
        name: the tool's name; default: the function's.
        description: what the model is told; default: the docstring's first paragraph.
        threads: for a sync function, how many of its calls may run at once,
            stuck ones included (a pool of its own); or a ``ToolThreads`` that
            a set of functions shares, as a LangChain source's tools do.
    """

    def make(fn: Callable[..., Any]) -> Tool:
        checked = validate_call(fn)
        schema = TypeAdapter(cast(Any, checked)).json_schema()
        schema.pop("title", None)
        schema.pop("additionalProperties", None)
        doc = inspect.getdoc(fn) or ""
        tool_name = name or fn.__name__
        text = description if description is not None else doc.split("\n\n", 1)[0].strip()
        is_async = inspect.iscoroutinefunction(fn)
        source = f"python:{fn.__module__}.{fn.__qualname__}"
        pool = None
        if not is_async:
            pool = (
                threads if isinstance(threads, ToolThreads) else ToolThreads(source, size=threads)
            )

        async def call(arguments: dict[str, Any]) -> ToolResult:
            try:
                if pool is None:
                    value = await checked(**arguments)
                else:
                    value = await pool.run(lambda: checked(**arguments), name=tool_name)
            except ValidationError as exc:
                raise BadArguments(f"bad arguments for {fn.__name__}: {exc}") from None
            except (SystemExit, KeyboardInterrupt) as exc:
                # argparse and click exit; from a tool that is a failure the model reads.
                raise ToolError(
                    f"{tool_name} tried to end the process ({type(exc).__name__}: {exc}); "
                    "the jar kept running"
                ) from None
            return ToolResult.of(value)

        return Tool(
            name=tool_name,
            description=text or tool_name,
            parameters=schema,
            call=call,
            source=source,
        )

    if function is not None:
        return make(function)
    return make
