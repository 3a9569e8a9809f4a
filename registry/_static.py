"""Services listed by hand: ``static: [host:port]`` and a file of addresses, re-read on change.

For networks without multicast. The entries go through the same admission as
mDNS sightings (their labels come from the service itself), so the selector,
``allow`` and ``token`` mean the same for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from brainjar._errors import DiscoveryError

from ._table import Sighting, parse_address

__all__ = ["FILE_POLL", "read_address_file", "static_sightings", "watch_file"]

log = logging.getLogger("brainjar.registry")

# How often the file of addresses is looked at for changes.
FILE_POLL = 1.0


def static_sightings(entries: Sequence[str]) -> list[Sighting]:
    """A sighting for each ``host:port``.

    Raises:
        DiscoveryError: an entry is not ``host:port``.
    """
    found = []
    for i, text in enumerate(entries):
        try:
            host, port = parse_address(text, where=f"static[{i}]")
        except ValueError as exc:
            raise DiscoveryError(str(exc)) from None
        found.append(Sighting(key=f"static:{host}:{port}", origin="static", host=host, port=port))
    return found


def read_address_file(path: Path) -> list[Sighting]:
    """The sightings a file lists: ``host:port`` per line; ``#`` starts a comment.

    A line that is not an address is logged and skipped; a missing file lists none.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            host, port = parse_address(line, where=f"{path}:{number}")
        except ValueError as exc:
            log.warning("%s", exc)
            continue
        found.append(Sighting(key=f"file:{host}:{port}", origin="file", host=host, port=port))
    return found


def _stamp(path: Path) -> tuple[float, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime, st.st_size


async def watch_file(
    path: Path,
    seen: Callable[[Sighting], None],
    gone: Callable[[str], None],
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Feeds the file's entries to ``seen`` and ``gone``, and again whenever it changes."""
    current: dict[str, Sighting] = {}
    stamp: tuple[float, int] | None = (-1.0, -1)
    started = False
    while True:
        now = _stamp(path)
        if now != stamp:
            stamp = now
            fresh = {s.key: s for s in read_address_file(path)}
            for key in current.keys() - fresh.keys():
                gone(key)
            for key in fresh.keys() - current.keys():
                seen(fresh[key])
            current = fresh
        if not started:
            started = True
            task_status.started()
        await anyio.sleep(FILE_POLL)
