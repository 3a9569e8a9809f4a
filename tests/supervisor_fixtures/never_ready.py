"""Says it is loading and never listens on anything."""

import time

print("still loading weights...", flush=True)
while True:
    time.sleep(3600)
