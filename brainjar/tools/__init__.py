"""Tools: the one shape every tool has, the policies that wrap a tool, and the tool set.

- ``Tool``, ``ToolResult``, ``ToolSpec``: a name, a description, a JSON Schema and
  an async call; what it returns; what a model is told about it. ``@tool`` makes
  one of a Python function; its sync calls run in a ``ToolThreads`` pool.
- ``StaticSource``, ``ToolSet``: a fixed list of tools; every source of a jar opened
  together, whose ``tools()`` is the union now. ``ChangeSignal``: how a source
  says its tools changed.
- Source wrappers (``Filtered``, ``Prefixed``) and one wrapper per call policy
  (``validated``, ``time_limited``, ``result_limited``, ``argument_limited``,
  ``approved``, ``guarded``), composed by ``apply_policy``: each policy is
  written once here and used by the loop, the MCP gateway, the gRPC server and
  ``serve-tools``.
- ``reporting``, ``current_reporter``: how a call in flight reports progress and
  log messages to its caller. ``InFlight``: the calls or requests a stopping
  server waits for, then cuts off.

May import: ``brainjar._errors``, ``brainjar.protocols``; nothing else of brainjar.
"""

from ._function import tool
from ._inflight import InFlight
from ._policies import (
    Approval,
    ToolPolicy,
    apply_policy,
    approved,
    argument_limited,
    guarded,
    result_limited,
    schema_problem,
    time_limited,
    truncate,
    validated,
)
from ._report import CallReporter, current_reporter, reporting
from ._signal import ChangeSignal, Signalled, wait_any_changed
from ._threads import TOOL_THREADS, ToolThreads
from ._tool import Tool, ToolCallable, ToolResult, ToolSpec
from ._toolset import (
    Filtered,
    Prefixed,
    StaticSource,
    ToolSet,
    Wrapper,
    as_source,
    union,
    wrap,
)

__all__ = [
    "TOOL_THREADS",
    "Approval",
    "CallReporter",
    "ChangeSignal",
    "Filtered",
    "InFlight",
    "Prefixed",
    "Signalled",
    "StaticSource",
    "Tool",
    "ToolCallable",
    "ToolPolicy",
    "ToolResult",
    "ToolSet",
    "ToolSpec",
    "ToolThreads",
    "Wrapper",
    "apply_policy",
    "approved",
    "argument_limited",
    "as_source",
    "current_reporter",
    "guarded",
    "reporting",
    "result_limited",
    "schema_problem",
    "time_limited",
    "tool",
    "truncate",
    "union",
    "validated",
    "wait_any_changed",
    "wrap",
]
