"""LangChain tools by import path, without code.

``module.path:Name`` may name a ``BaseTool`` subclass, a ``BaseTool`` instance
(what ``@tool`` makes), a toolkit class or instance (anything with
``get_tools()``), or a factory function that returns any of these or a list of
tools. ``with`` holds the keyword arguments for the class or factory.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Mapping, Sequence
from functools import partial, wraps
from types import TracebackType
from typing import Any, Self

from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools import Tool as SimpleTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from brainjar._errors import ManifestError, ToolError
from brainjar.tools import ChangeSignal, Signalled, Tool, ToolResult

from ._threads import TOOL_THREADS, ToolThreads

__all__ = ["LangChainSource", "load_langchain_tools", "runs_sync", "to_brainjar_tool"]


class LangChainSource(Signalled):
    """The tools one manifest entry names; they run in this process.

    Args:
        target: ``module.path:Name``.
        kwargs: what the class or factory is built with (the manifest's ``with``).
        search_path: a folder to import the module from (the manifest's folder).
        threads: how many of its sync tool calls may run at once, counting the
            ones stuck in a tool that did not return (see ``ToolThreads``).
    """

    def __init__(
        self,
        target: str,
        *,
        kwargs: Mapping[str, Any] | None = None,
        search_path: str | None = None,
        threads: int = TOOL_THREADS,
    ) -> None:
        self.target = target
        self.kwargs = dict(kwargs or {})
        self.search_path = search_path
        self.threads = ToolThreads(self.name, size=threads)
        self._tools: list[Tool] = []
        self._changes = ChangeSignal()

    @property
    def name(self) -> str:
        return f"langchain:{self.target}"

    def tools(self) -> Sequence[Tool]:
        return self._tools

    async def __aenter__(self) -> Self:
        # A tools module next to the manifest imports as a module of that name,
        # as pytest does for a test's folder; it goes last, so it shadows nothing.
        if self.search_path is not None and self.search_path not in sys.path:
            sys.path.append(self.search_path)
        # Importing and building tools may do I/O; it happens once, at start.
        self._tools = [
            to_brainjar_tool(t, source=self.name, threads=self.threads)
            for t in load_langchain_tools(self.target, self.kwargs)
        ]
        self._changes.bump()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Threads stuck in a tool are daemons nobody joins: closing never waits for them.
        self._tools = []
        self._changes.bump()


def load_langchain_tools(target: str, kwargs: Mapping[str, Any]) -> list[BaseTool]:
    """Imports ``module:Name`` and makes LangChain tools of it.

    Raises:
        ManifestError: the import, the construction or the result is not usable;
            the message names the target and the cause.
    """
    module_name, _, attr_path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ManifestError(
            f"langchain: {target}: cannot import {module_name}: {exc}; "
            f"is the package that provides it installed?"
        ) from None
    except Exception as exc:
        raise ManifestError(
            f"langchain: {target}: importing {module_name} failed: {exc!r}"
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ManifestError(
                f"langchain: {target}: {module_name} has no attribute {attr_path!r}"
            ) from None
    try:
        made = _make(obj, kwargs)
    except ManifestError:
        raise
    except Exception as exc:
        raise ManifestError(
            f"langchain: {target}: building it with {dict(kwargs)} failed: {exc}"
        ) from None
    tools = _as_tools(made)
    if tools is None:
        raise ManifestError(
            f"langchain: {target} is a {type(made).__name__}, not a tool, a toolkit "
            f"or a function that returns tools"
        )
    return tools


def _make(obj: Any, kwargs: Mapping[str, Any]) -> Any:
    if isinstance(obj, BaseTool) or (not callable(obj) and hasattr(obj, "get_tools")):
        if kwargs:
            raise ManifestError(
                f"langchain: {obj!r} is already built: remove 'with', or name its class"
            )
        return obj
    if inspect.isclass(obj) or callable(obj):
        return obj(**kwargs)
    return obj


def _as_tools(made: Any) -> list[BaseTool] | None:
    if isinstance(made, BaseTool):
        return [made]
    get_tools = getattr(made, "get_tools", None)
    if callable(get_tools):
        made = get_tools()
    if isinstance(made, list | tuple) and all(isinstance(t, BaseTool) for t in made):
        return list(made)
    return None


def to_brainjar_tool(tool: BaseTool, *, source: str, threads: ToolThreads | None = None) -> Tool:
    """A LangChain tool in brainjar's shape.

    A sync tool runs in one of ``threads`` (a pool of its own when None), so it
    never blocks the loop, and one that hangs holds only its source's threads.
    ``ToolException`` and other errors, ``SystemExit`` and ``KeyboardInterrupt``
    included (argparse and click raise them), become tool errors the model sees.
    """
    function = convert_to_openai_tool(tool)["function"]
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    if isinstance(tool.args_schema, dict):
        # A JSON Schema written by hand is the tool's contract as it stands: LangChain's
        # conversion would inline its $defs and drop them.
        parameters = dict(tool.args_schema)
    pool = threads if threads is not None else ToolThreads(source)
    sync = runs_sync(tool)
    if not sync:
        tool = _exits_contained(tool)

    async def call(arguments: dict[str, Any]) -> ToolResult:
        try:
            if sync:
                result = await pool.run(partial(tool.invoke, arguments), name=tool.name)
            else:
                result = await tool.ainvoke(arguments)
        except ToolError:
            raise
        except _ToolExit as exc:
            raise ToolError(
                f"{tool.name} tried to end the process ({exc}); the jar kept running"
            ) from None
        except (SystemExit, KeyboardInterrupt) as exc:
            raise ToolError(
                f"{tool.name} tried to end the process ({type(exc).__name__}: {exc}); "
                "the jar kept running"
            ) from None
        except Exception as exc:
            raise ToolError(f"{tool.name} failed: {exc}") from exc
        if hasattr(result, "content") and hasattr(result, "tool_call_id"):  # a ToolMessage
            return ToolResult.of(result.content)
        return ToolResult.of(result)

    return Tool(
        name=tool.name,
        description=function.get("description") or tool.description or "",
        parameters=parameters,
        call=call,
        source=source,
    )


class _ToolExit(Exception):
    """An async tool raised ``SystemExit`` or ``KeyboardInterrupt``, as an ordinary error."""


def _exits_contained(tool: BaseTool) -> BaseTool:
    """A copy of an async tool whose ``_arun`` raises ``_ToolExit`` instead of exiting.

    LangChain awaits an async tool's coroutine in a task of its own, and asyncio
    re-raises ``SystemExit`` and ``KeyboardInterrupt`` from a task out of the event
    loop: caught only at the ``await``, one ``sys.exit()`` in a tool ends the process.
    """
    arun = tool._arun

    @wraps(arun)  # LangChain reads its signature (run_manager)
    async def contained(*args: Any, **kwargs: Any) -> Any:
        try:
            return await arun(*args, **kwargs)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise _ToolExit(f"{type(exc).__name__}: {exc}") from None

    copy = tool.model_copy()
    object.__setattr__(copy, "_arun", contained)  # pydantic would refuse a new attribute
    return copy


def runs_sync(tool: BaseTool) -> bool:
    """Whether LangChain would run ``tool`` in a thread: it has no coroutine of its own."""
    if isinstance(tool, StructuredTool | SimpleTool):
        return tool.coroutine is None
    return type(tool)._arun is BaseTool._arun
