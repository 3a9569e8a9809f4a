"""A tiny HTTP server for supervisor tests.

usage: http_server.py PORT [--delay S] [--runs-file F --fail-from-run K] [--pid-file F]

GET /health answers 503 for the first S seconds, then 200. GET /exit?code=N
answers and then exits with N. With --runs-file, each start appends a line;
the K-th start and later ones crash at once with code 3.
"""

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

args = sys.argv[1:]
port = int(args.pop(0))
opts = dict(zip(args[::2], args[1::2], strict=True))
delay = float(opts.get("--delay", "0"))
if "--pid-file" in opts:
    with open(opts["--pid-file"], "a") as f:
        f.write(f"{os.getpid()}\n")
if "--runs-file" in opts:
    with open(opts["--runs-file"], "a+") as f:
        f.write("run\n")
        f.seek(0)
        run = len(f.read().splitlines())
    if run >= int(opts["--fail-from-run"]):
        print(f"crashing on start number {run}", file=sys.stderr, flush=True)
        sys.exit(3)
ready_at = time.monotonic() + delay


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/exit":
            code = int(parse_qs(url.query).get("code", ["1"])[0])
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"bye")
            self.wfile.flush()
            print(f"exiting with {code}", flush=True)
            os._exit(code)
        status = 200 if time.monotonic() >= ready_at else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(str(os.getpid()).encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


print(f"listening on {port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
