"""``python -m brainjar.testing SCRIPT.yaml --port N``: serve a script until Ctrl-C.

The first line on stdout is the server's URL (the Ollama host; the OpenAI base
URL is that plus ``/v1``).
"""

from __future__ import annotations

import argparse
import signal
import sys

import anyio

from brainjar._aio import run

from ._script_file import load_script
from ._server import ScriptedModelServer


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m brainjar.testing",
        description="Serve a scripted model over the OpenAI and Ollama chat APIs.",
    )
    parser.add_argument("script", help="a YAML or JSON file: a list of steps")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--model-name", default="scripted")
    parser.add_argument("--repeat", action="store_true", help="start again after the last step")
    args = parser.parse_args(argv)
    try:
        model = load_script(args.script)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model.repeat = model.repeat or args.repeat
    server = ScriptedModelServer(model, host=args.host, port=args.port, model_name=args.model_name)

    async def serve() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with server:
                print(server.url, flush=True)
                print(f"OpenAI base URL: {server.openai_base_url}", file=sys.stderr, flush=True)
                async for _ in signals:
                    return

    try:
        run(serve)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
