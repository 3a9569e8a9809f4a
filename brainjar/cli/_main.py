"""The `brainjar` command.

Exit status: 0 done; 1 the model, a process or a transport failed; 2 a mistake
in the command or the manifest (a message, never a traceback); 130 interrupted.

Serving (``brainjar run`` with endpoints), SIGTERM (docker stop, systemd,
Kubernetes) and SIGINT (Ctrl-C) both drain: ``/readyz`` and new conversations
answer 503 while the conversations in flight finish, within ``--grace`` seconds;
then brainjar stops. Its status after SIGTERM is 0, a stop that was asked for
(supervisors count 143 as a failure); after Ctrl-C it is 130, as shells expect.
A second signal during the drain stops at once (status 128 + the signal).
``brainjar mcp --transport http`` and ``brainjar serve-tools`` drain the same way:
new calls are refused, calls in flight get ``--grace`` seconds, then end with an
error of their protocol.
Heavy modules are imported inside the commands so that `brainjar --help` is fast.
"""

from __future__ import annotations

from ._common import app
from ._images import build, images, inspect, login, pull, push, rmi
from ._inspect import schema, tools, validate
from ._k8s import render_app
from ._lifecycle import logs, ps, rm, stop
from ._run import run
from ._serving import discover, mcp, serve_tools

__all__ = ["app", "main"]

# The commands, in the order `brainjar --help` lists them.
app.command()(run)
app.command()(ps)
app.command()(logs)
app.command()(stop)
app.command()(rm)
app.command()(build)
app.command()(push)
app.command()(pull)
app.command()(images)
app.command()(rmi)
app.command()(inspect)
app.command()(login)
app.command()(validate)
app.command()(schema)
app.command()(tools)
app.command()(mcp)
app.command("serve-tools")(serve_tools)
app.command()(discover)
app.add_typer(render_app)


def main() -> None:
    """The console script."""
    app()
