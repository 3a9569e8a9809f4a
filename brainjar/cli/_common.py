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


def _manifest_or_image(value: Path) -> Path:
    """A manifest path as given, or an image reference resolved to its unpacked manifest."""
    if value.exists():
        return value
    from brainjar.image import looks_like_reference

    if not looks_like_reference(str(value)):
        return value
    from brainjar._errors import BrainjarError, ManifestError
    from brainjar.image import resolve_image

    try:
        return resolve_image(str(value))
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except BrainjarError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None


ManifestArg = Annotated[
    Path,
    typer.Argument(
        help="the manifest (YAML), or an image reference (pulled if absent)",
        show_default=False,
        callback=_manifest_or_image,
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="start the model even if the jar does not fit this machine")
]


def _fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"brainjar: {message}\n")
    return typer.Exit(code)


def _run_async(main: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Runs a command's coroutine; maps brainjar's errors to messages and exit codes."""
    from brainjar._aio import run
    from brainjar._errors import BrainjarError, ManifestError

    try:
        code = run(main)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except BrainjarError as exc:
        raise _fail(str(exc), EXIT_FAILED) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if code:
        raise typer.Exit(code)


def _load(manifest: Path, *, force: bool | None = None, **kwargs: Any) -> Jar:
    """Loads the jar; with ``force`` given, refuses one that does not fit (unless it is True)."""
    from brainjar._errors import ManifestError
    from brainjar.jar._jar import Jar

    try:
        jar = Jar.load(manifest, **kwargs)
        if force is False:
            from brainjar.image import check_fits

            check_fits(jar.manifest, manifest_path=manifest)
    except ManifestError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    return jar


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
