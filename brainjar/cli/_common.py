"""What every command shares: the typer app, exit statuses, loading a manifest."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from brainjar.jar._jar import Jar

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# How long `brainjar run` and `brainjar mcp` let work in flight finish once told to stop.
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
