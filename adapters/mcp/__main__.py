"""``python -m brainjar.adapters.mcp MANIFEST [--transport stdio|http] [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import sys
from functools import partial

import anyio

from brainjar._errors import BrainjarError, ManifestError

from ._endpoint import serve_jar_mcp


def main(argv: list[str] | None = None) -> int:
    """Serves a jar over MCP; the same as ``brainjar mcp``."""
    parser = argparse.ArgumentParser(prog="python -m brainjar.adapters.mcp")
    parser.add_argument("manifest")
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/mcp")
    args = parser.parse_args(argv)
    run = partial(
        serve_jar_mcp,
        args.manifest,
        transport=args.transport,
        host=args.host,
        port=args.port,
        path=args.path,
    )
    try:
        anyio.run(run)
    except ManifestError as exc:
        print(f"brainjar: {exc}", file=sys.stderr)
        return 2
    except BrainjarError as exc:
        print(f"brainjar: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
