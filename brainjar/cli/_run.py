"""`brainjar run`: answer once, chat, or serve the endpoints until a signal drains them."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import (
    DEFAULT_GRACE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ForceOpt,
    ManifestArg,
    _fail,
    _load,
    _model_log,
    _run_async,
)

if TYPE_CHECKING:
    from pathlib import Path

    from brainjar.jar._jar import Jar


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
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", "-d", help="serve in the background; prints the jar's id and name"
        ),
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="with -d: the jar's name (default: metadata.name)")
    ] = None,
    jar_id: Annotated[str | None, typer.Option("--jar-id", hidden=True)] = None,
    force: ForceOpt = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            help="serving: N processes share the OpenAI/Ollama endpoints' ports and "
            "limits, and one model process",
        ),
    ] = 1,
) -> None:
    """Start the model, attach the tools, and answer (or chat, or serve)."""
    if workers > 1 and (prompt is not None or serve is False):
        raise _fail("--workers serves endpoints: give no prompt", EXIT_USAGE)
    if detach or name is not None:
        from ._lifecycle import run_detached

        run_detached(
            manifest,
            prompt=prompt,
            detach=detach,
            name=name,
            grace=grace,
            force=force,
            workers=workers,
        )
        return
    if workers > 1:
        _run_workers(
            manifest,
            workers=workers,
            as_json=as_json,
            verbose=verbose,
            grace=grace,
            force=force,
            jar_id=jar_id,
        )
        return
    jar = _load(manifest, force=force)
    jar.log = _model_log(jar.name, verbose)
    serving = bool(jar.manifest.spec.endpoints) and prompt is None if serve is None else serve

    async def main() -> int | None:
        from rich.console import Console

        err = Console(stderr=True, highlight=False)
        if serving and prompt is None:
            return await _serve(jar, err, as_json=as_json, grace=grace, jar_id=jar_id)
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


async def _serve(
    jar: Jar, err: Any, *, as_json: bool, grace: float, jar_id: str | None = None
) -> int:
    """Opens the jar and serves its endpoints until SIGTERM or SIGINT, then drains.

    Returns:
        0 after SIGTERM, 130 after SIGINT (see the module's docstring).
    """
    import anyio

    from brainjar.serve._endpoints import serve_endpoints

    voice = _Voice(jar, jar_id=jar_id, as_json=as_json, err=err)

    def request(record: dict[str, Any]) -> None:
        print(json.dumps({"type": "request", **record}, default=str), flush=True)

    serving = anyio.CancelScope()
    failure: BaseException | None = None  # raised outside the task group, unwrapped

    async def stop_on_signals(signals: AsyncIterator[signal.Signals]) -> None:
        async for signum in signals:
            voice.draining(
                signum,
                f"conversations in flight may take {grace:g}s to finish; new ones are refused",
            )
            serving.cancel()

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_on_signals, signals)
            with serving:
                try:
                    await _start(jar, err)
                    voice.opened()
                    try:
                        await serve_endpoints(
                            jar,
                            grace=grace,
                            on_ready=voice.listening,
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
    return voice.status()


def _run_workers(
    manifest: Path,
    *,
    workers: int,
    as_json: bool,
    verbose: bool,
    grace: float,
    force: bool,
    jar_id: str | None,
) -> None:
    """``run --workers N``: the model process here, N workers serving the endpoints."""
    jar = _load(manifest, force=force)
    jar.log = _model_log(jar.name, verbose)

    async def main() -> int:
        import anyio
        from rich.console import Console

        from brainjar.serve._workers import check_workers, serve_workers

        err = Console(stderr=True, highlight=False)
        check_workers(jar, workers)
        voice = _Voice(jar, jar_id=jar_id, as_json=as_json, err=err, note=f" ({workers} workers)")
        stopped = anyio.Event()

        def event(record: dict[str, Any]) -> None:
            if as_json and record.get("type") == "request":
                print(json.dumps(record, default=str), flush=True)

        async def on_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    voice.draining(signum, f"{workers} workers drain, for up to {grace:g}s")
                    stopped.set()

        voice.opened()
        async with anyio.create_task_group() as tg:
            tg.start_soon(on_signals)
            await serve_workers(
                manifest,
                jar,
                workers=workers,
                grace=grace,
                on_ready=voice.listening,
                on_event=event,
                stopped=stopped,
            )
            tg.cancel_scope.cancel()
        if as_json:
            print(json.dumps({"type": "stopped"}), flush=True)
        return voice.status()

    _run_async(main)


class _Voice:
    """What a serving jar says as it goes: to its record (a background jar, ``run -d``),
    as JSON lines (``--json``), or on the terminal; and what its signals mean."""

    def __init__(
        self, jar: Jar, *, jar_id: str | None, as_json: bool, err: Any, note: str = ""
    ) -> None:
        self.reporter = None
        if jar_id is not None:
            from brainjar.lifecycle import JarReporter

            self.reporter = JarReporter(jar_id, endpoints=len(jar.manifest.spec.endpoints))
        self.as_json = as_json
        self.err = err
        self.note = note
        self.first: signal.Signals | None = None

    def opened(self) -> None:
        if self.reporter is not None:
            self.reporter.opened()

    def listening(self, kind: str, url: str) -> None:
        if self.reporter is not None:
            self.reporter.listening(kind, url)
        if self.as_json:
            print(json.dumps({"type": "listening", "endpoint": kind, "url": url}), flush=True)
        else:
            self.err.print(f"[green]{kind}[/] listening on {url}{self.note}")

    def draining(self, signum: signal.Signals, what: str) -> None:
        """Says the jar drains; a second signal ends the process at once."""
        if self.first is not None:  # the user will not wait for the drain
            sys.stderr.write(f"brainjar: {signum.name} again: stopping at once\n")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + signum)
        self.first = signum
        if self.reporter is not None:
            self.reporter.stopping()
        if self.as_json:
            print(json.dumps({"type": "draining", "signal": signum.name}), flush=True)
        else:
            self.err.print(
                f"{signum.name}: draining: {what} (send the signal again to stop at once)"
            )

    def status(self) -> int:
        """0 after SIGTERM, 130 after SIGINT (see the module's docstring)."""
        return EXIT_INTERRUPTED if self.first == signal.SIGINT else 0
