"""An async LangChain tool that calls sys.exit() is a tool error, not the end of the process.

LangChain awaits an async tool in a task of its own, and asyncio re-raises
SystemExit from a task out of the event loop; so this runs in a process of its
own, where the old behaviour ends the process instead of failing a test.
"""

from __future__ import annotations

import subprocess
import sys

# A child Python may be slow to import langchain on a loaded machine.
CHILD_LIMIT = 60.0

CHILD = """
import sys, anyio
from langchain_core.tools import tool
from brainjar import ToolError
from brainjar.adapters.langchain import to_brainjar_tool

@tool
async def quits(code: int) -> str:
    \"\"\"Ends the process, as a CLI wrapper does.\"\"\"
    sys.exit(code)

async def main() -> None:
    call = to_brainjar_tool(quits, source="test").call
    for _ in range(2):
        try:
            await call({"code": 3})
        except ToolError as exc:
            print("tool error:", exc, flush=True)
    await anyio.sleep(0)
    print("loop still runs", flush=True)

anyio.run(main)
"""


def test_sys_exit_in_an_async_tool_is_a_tool_error() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=CHILD_LIMIT
    )
    assert child.returncode == 0, child.stderr
    errors = [line for line in child.stdout.splitlines() if line.startswith("tool error:")]
    assert len(errors) == 2
    assert "quits tried to end the process (SystemExit: 3)" in errors[0]
    assert child.stdout.splitlines()[-1] == "loop still runs"
