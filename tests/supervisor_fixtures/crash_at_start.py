"""Writes an error and exits with 2, as a command with a bad configuration does."""

import sys

print("loading configuration", flush=True)
print("boom: no such model file 'missing.gguf'", file=sys.stderr, flush=True)
sys.exit(2)
