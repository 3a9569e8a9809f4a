"""The `brainjar` command.

Exit status: 0 done; 1 the model, a process or a transport failed; 2 a mistake
in the command or the manifest (a message, never a traceback); 130 interrupted.

Serving (``brainjar run`` with endpoints), SIGTERM (docker stop, systemd,
Kubernetes) and SIGINT (Ctrl-C) both drain: ``/readyz`` and new conversations
answer 503 while the conversations in flight finish, within ``--grace`` seconds;
then brainjar stops. Its status after SIGTERM is 0, a stop that was asked for
(supervisors count 143 as a failure); after Ctrl-C it is 130, as shells expect.
A second signal during the drain stops at once (status 128 + the signal).
Heavy modules are imported inside the commands so that `brainjar --help` is fast.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from brainjar.jar._jar import Jar

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# How long `brainjar run` lets conversations in flight finish once told to stop.
DEFAULT_GRACE = 30.0

app = typer.Typer(
    name="brainjar",
    help="Run a language model like a container: a manifest, its tools, its endpoints.",
    epilog="Exit status: 0 done (also after SIGTERM drained the endpoints), 1 "
    "model/process/transport failure, 2 bad manifest or usage, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ManifestArg = Annotated[Path, typer.Argument(help="the manifest (YAML)", show_default=False)]


def _fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"brainjar: {message}\n")
    return typer.Exit(code)


def _run_async(main: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Runs a command's coroutine; maps brainjar's errors to messages and exit codes."""
    import anyio

    from brainjar._errors import BrainjarError, ManifestError

    try:
        code = anyio.run(main)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except BrainjarError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if code:
        raise typer.Exit(code)


def _load(manifest: Path, **kwargs: Any) -> Jar:
    from brainjar._errors import ManifestError
    from brainjar.jar._jar import Jar

    try:
        return Jar.load(manifest, **kwargs)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None


def _model_log(jar_name: str, verbose: bool) -> Callable[[str], None]:
    """Where the model process's log goes: stderr with --verbose, else a file."""
    if verbose:
        return lambda line: print(line, file=sys.stderr, flush=True)
    import platformdirs

    folder = platformdirs.user_state_path("brainjar") / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / f"{jar_name}.log").open("a", encoding="utf-8")

    def write(line: str) -> None:
        handle.write(line + "\n")
        handle.flush()

    return write


@app.command()
def run(
    manifest: ManifestArg,
    prompt: Annotated[
        str | None, typer.Argument(help="ask this once and exit; without it, chat")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON event per line")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show the model's log")] = False,
    serve: Annotated[
        bool | None,
        typer.Option(
            "--serve/--no-serve",
            help="serve the manifest's endpoints (default: when "
            "it has endpoints and no prompt is given)",
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            metavar="SECONDS",
            help="serving: on SIGTERM or Ctrl-C, how long conversations in flight may "
            "take to finish before they are cut off",
        ),
    ] = DEFAULT_GRACE,
) -> None:
    """Start the model, attach the tools, and answer (or chat, or serve)."""
    jar = _load(manifest)
    jar.log = _model_log(jar.name, verbose)
    serving = bool(jar.manifest.spec.endpoints) and prompt is None if serve is None else serve

    async def main() -> int | None:
        from rich.console import Console

        err = Console(stderr=True, highlight=False)
        if serving and prompt is None:
            return await _serve(jar, err, as_json=as_json, grace=grace)
        await _start(jar, err)
        try:
            if prompt is not None:
                return await _answer(jar, prompt, as_json=as_json)
            return await _chat(jar, as_json=as_json)
        finally:
            await jar.__aexit__(None, None, None)

    _run_async(main)


async def _start(jar: Jar, err: Any) -> None:
    with err.status(
        f"starting {jar.name} ({jar.manifest.spec.model.backend})…", spinner="dots"
    ) as status:
        await jar.__aenter__()
        status.stop()


async def _answer(jar: Jar, prompt: str, *, as_json: bool) -> int:
    from ._render import JsonRenderer, TerminalRenderer

    render = JsonRenderer() if as_json else TerminalRenderer()
    async with jar.events(prompt) as events:
        async for event in events:
            render(event)
    return 0


async def _chat(jar: Jar, *, as_json: bool) -> int:

    from brainjar.runtime._messages import Message

    from ._render import JsonRenderer, TerminalRenderer

    render = JsonRenderer() if as_json else TerminalRenderer()
    history: list[Message] = []
    stdin = _StdinLines()
    transcript = jar.new_transcript()
    names = ", ".join(t.name for t in jar.tools()) or "none"
    print(f"{jar.name} is ready; tools: {names}. Ctrl-D ends.", file=sys.stderr)
    try:
        while True:
            line = await stdin.readline("> ")
            if line is None:
                print(file=sys.stderr)
                return 0
            if not line.strip():
                continue
            async with jar.events(line, history=history, transcript=transcript) as events:
                async for event in events:
                    render(event)
    finally:
        if transcript is not None:
            transcript.close()
            print(f"transcript: {transcript.path}", file=sys.stderr)


class _StdinLines:
    """Lines from stdin, read on the event loop.

    No thread blocks on stdin: after Ctrl-C the interpreter must exit at once,
    and a thread parked in ``input()`` would hold the exit (or, as a daemon,
    abort it while it holds stdin's lock).
    """

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        self.buffer = b""
        self.regular_file = stat.S_ISREG(os.fstat(self.fd).st_mode)  # epoll cannot watch these

    async def readline(self, prompt: str) -> str | None:
        import anyio

        sys.stderr.write(prompt)
        sys.stderr.flush()
        while b"\n" not in self.buffer:
            if not self.regular_file:
                await anyio.wait_readable(self.fd)
            chunk = os.read(self.fd, 65536)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line.decode(errors="replace") if line else None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode(errors="replace")


async def _serve(jar: Jar, err: Any, *, as_json: bool, grace: float) -> int:
    """Opens the jar and serves its endpoints until SIGTERM or SIGINT, then drains.

    Returns:
        0 after SIGTERM, 130 after SIGINT (see the module's docstring).
    """
    import signal

    import anyio

    from brainjar.serve._endpoints import serve_endpoints

    def ready(kind: str, url: str) -> None:
        if as_json:
            print(json.dumps({"type": "listening", "endpoint": kind, "url": url}), flush=True)
        else:
            err.print(f"[green]{kind}[/] listening on {url}")

    def request(record: dict[str, Any]) -> None:
        print(json.dumps({"type": "request", **record}, default=str), flush=True)

    stops: list[signal.Signals] = []
    serving = anyio.CancelScope()
    failure: BaseException | None = None  # raised outside the task group, unwrapped

    async def stop_on_signals(signals: AsyncIterator[signal.Signals]) -> None:
        async for signum in signals:
            if stops:  # a second signal: the user will not wait for the drain
                sys.stderr.write(f"brainjar: {signum.name} again: stopping at once\n")
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(128 + signum)
            stops.append(signum)
            if as_json:
                print(json.dumps({"type": "draining", "signal": signum.name}), flush=True)
            else:
                err.print(
                    f"{signum.name}: draining: conversations in flight may take {grace:g}s "
                    "to finish; new ones are refused (send the signal again to stop at once)"
                )
            serving.cancel()

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signals, signals)
            with serving:
                try:
                    await _start(jar, err)
                    try:
                        await serve_endpoints(
                            jar,
                            grace=grace,
                            on_ready=ready,
                            request_log=request if as_json else None,
                        )
                        await anyio.sleep_forever()  # a jar whose endpoints list is empty
                    finally:
                        await jar.__aexit__(None, None, None)
                except Exception as exc:
                    failure = exc
            tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if as_json:
        print(json.dumps({"type": "stopped"}), flush=True)
    return EXIT_INTERRUPTED if stops and stops[0] == signal.SIGINT else 0


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="manifests to check", show_default=False)],
) -> None:
    """Check manifests; print every problem with file:line:col."""
    from brainjar._errors import ManifestError
    from brainjar.manifest._load import load_manifest

    bad = 0
    for file in files:
        try:
            load_manifest(file)
        except ManifestError as exc:
            bad += 1
            print(exc, file=sys.stderr)
        else:
            print(f"{file}: ok")
    if bad:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def schema(
    kind: Annotated[str, typer.Option(help="the document kind")] = "Jar",
) -> None:
    """Print the manifest's JSON Schema."""
    from brainjar.manifest._schema import schema_json

    try:
        sys.stdout.write(schema_json(kind))
    except KeyError:
        raise _fail(f"unknown kind {kind!r}", EXIT_USAGE) from None


@app.command()
def tools(
    manifest: ManifestArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """List the tools a jar resolves to, with sources and schemas (no model is started)."""
    jar = _load(manifest)

    async def main() -> int:
        from brainjar._errors import ManifestError

        async with jar.toolset:
            problems = jar.tool_problems()
            found = jar.tools()
        if problems:  # a filter naming no tool is a manifest error (exit 2), as for run
            raise ManifestError(problems)
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "name": t.name,
                            "source": t.source,
                            "description": t.description,
                            "parameters": t.parameters,
                        }
                        for t in found
                    ],
                    indent=2,
                )
            )
            return 0
        from rich.console import Console
        from rich.table import Table

        table = Table("tool", "source", "arguments", "description", title=f"tools of {jar.name}")
        for t in found:
            args = ", ".join(
                f"{k}{'*' if k in t.parameters.get('required', []) else ''}"
                for k in t.parameters.get("properties", {})
            )
            table.add_row(t.name, t.source, args, t.description.split("\n")[0][:80])
        Console().print(table)
        return 0

    _run_async(main)


# feature commands (each imports its implementation lazily)


@app.command()
def mcp(
    manifest: ManifestArg,
    transport: Annotated[
        str, typer.Option(help="stdio (for IDEs) or http (streamable HTTP)")
    ] = "stdio",
    host: Annotated[str, typer.Option(help="http: where to listen")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: the port; 0 picks a free one")] = 0,
    path: Annotated[str, typer.Option(help="http: the MCP endpoint's path")] = "/mcp",
) -> None:
    """Serve the jar over MCP: its tools, and the jar itself as ask_<name>."""
    if transport not in ("stdio", "http"):
        raise _fail(f"--transport must be stdio or http, not {transport!r}", EXIT_USAGE)
    _load(manifest)  # a bad manifest is a message and exit status 2, before anything starts

    async def main() -> None:
        from brainjar.serve import serve_jar_mcp

        await serve_jar_mcp(
            manifest,
            transport="http" if transport == "http" else "stdio",
            host=host,
            port=port,
            path=path,
        )

    _run_async(main)


@app.command("serve-tools")
def serve_tools(
    manifest: ManifestArg,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON event per line")] = False,
) -> None:
    """Serve a ToolService manifest's tools over gRPC (and MCP), announced by mDNS."""
    from brainjar._errors import ManifestError
    from brainjar.serve._toolservice import load_tool_service

    try:
        service = load_tool_service(manifest)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None

    def show(event: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(event), flush=True)
        elif event["type"] in ("listening", "announced", "goodbye"):
            detail = event.get("url") or event.get("name")
            print(f"{service.metadata.name}: {event['type']} {detail}", file=sys.stderr)

    async def main() -> int:
        import signal
        from functools import partial

        import anyio

        from brainjar.serve._toolservice import serve_tools as run

        base = manifest.parent.resolve()
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as tg:
                await tg.start(partial(run, service, base_dir=base, on_event=show))
                show({"type": "ready"})
                async for _ in signals:  # stop gracefully: goodbye, finish calls, close
                    tg.cancel_scope.cancel()
                    break
        show({"type": "stopped"})
        return 0

    _run_async(main)


@app.command()
def discover(
    as_json: Annotated[bool, typer.Option("--json", help="JSON snapshots")] = False,
    interface: Annotated[
        list[str] | None,
        typer.Option("--interface", help="address or interface name to browse on, or all"),
    ] = None,
    loopback: Annotated[bool, typer.Option("--loopback", help="browse on 127.0.0.1")] = False,
    selector: Annotated[
        list[str] | None, typer.Option("--selector", "-l", help="label=value to match")
    ] = None,
    allow: Annotated[list[str] | None, typer.Option(help="instance names to trust")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="BRAINJAR_TOKEN", help="token services must prove")
    ] = None,
    static: Annotated[list[str] | None, typer.Option(help="host:port to check too")] = None,
    file: Annotated[Path | None, typer.Option(help="a file of host:port lines")] = None,
    wait: Annotated[float, typer.Option(help="--json: seconds to browse first")] = 3.0,
    follow: Annotated[bool, typer.Option(help="--json: a snapshot per change")] = False,
) -> None:
    """Show the tool services on the network (default: loopback only) and who is trusted."""
    from brainjar.registry import DiscoverSettings

    pairs = [item.partition("=") for item in selector or []]
    if any(not sep for _, sep, _ in pairs):
        raise _fail("--selector takes label=value, e.g. --selector team=docs", EXIT_USAGE)
    interfaces = [*(interface or []), *(["127.0.0.1"] if loopback else [])]
    config = DiscoverSettings(
        selector={k: v for k, _, v in pairs},
        allow=allow or [],
        token=token,
        static=static or [],
        file=file,
        interfaces=interfaces or None,
    )

    async def main() -> int:
        from brainjar.cli._discover import discover as run

        code: int = await run(config, as_json=as_json, wait=wait, follow=follow)
        return code

    _run_async(main)


def main() -> None:
    """The console script."""
    app()
