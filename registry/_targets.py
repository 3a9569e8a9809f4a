"""Every SRV target and TXT record seen for a service name, kept as it arrives.

mDNS lets anyone answer for any name. zeroconf's cache keeps what the latest
answer says (an answer with the cache-flush bit expires the others within a
second), and resolving a name reads one SRV record of it: an impostor that
answers for a real service's name, first or louder, would hide the real one
for good. So the browser keeps every ``(host, port)`` any SRV record gave for a
name, until that record's own TTL ends or its goodbye, and reports each as a
sighting of its own; the registry then judges the rows, oldest first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from zeroconf import RecordUpdate, RecordUpdateListener, ServiceInfo, Zeroconf
from zeroconf._dns import DNSRecord, DNSService, DNSText
from zeroconf.const import _TYPE_SRV, _TYPE_TXT

from ._announce import SERVICE_TYPE

__all__ = ["MAX_NAMES", "MAX_TARGETS", "Targets", "text_for"]

log = logging.getLogger("brainjar.registry")

# SRV targets kept per name. The first ones seen are kept: a flood of later claims
# never pushes an earlier one out (a target whose TTL ended frees its place).
MAX_TARGETS = 8
# TXT records kept per name (the newest: a service's record changes with its tools),
# and names tracked at all (beyond: ignored, and logged).
MAX_TEXTS = 8
MAX_NAMES = 1024

Target = tuple[str, int]  # the SRV record's host name and port
# A well-formed port in a TXT record (the browser checks every value again).
_PORT = re.compile(rb"[0-9]{1,5}")


class Targets(RecordUpdateListener):
    """A zeroconf record listener: the SRV targets and TXT records of our names.

    Args:
        changed: called with a name (lower case) the browser follows when a target
            it did not know arrives, so that the name is resolved again.
    """

    def __init__(self, changed: Callable[[str], None]) -> None:
        self.changed = changed
        self.followed: set[str] = set()
        self._targets: dict[str, dict[Target, float]] = {}
        self._texts: dict[str, dict[bytes, float]] = {}
        self._full_logged = False

    def follow(self, name: str) -> None:
        """The browser saw the name's pointer: new targets of it are reported."""
        self.followed.add(name.lower())

    def forget(self, name: str) -> None:
        """The name said goodbye (or is asked for anew): its targets are dropped."""
        key = name.lower()
        self.followed.discard(key)
        self._targets.pop(key, None)
        self._texts.pop(key, None)

    def drop(self, name: str, target: Target) -> None:
        """That target stopped answering: forgotten until an answer gives it again."""
        self._targets.get(name.lower(), {}).pop(target, None)

    def targets(self, name: str, now: float) -> list[Target]:
        """The live targets of ``name``, first seen first."""
        return list(_live(self._targets.get(name.lower()), now))

    def texts(self, name: str, now: float) -> list[bytes]:
        """The live TXT records of ``name``, newest first."""
        return list(reversed(_live(self._texts.get(name.lower()), now)))

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            try:
                self._take(update.new, now)
            except Exception:  # a record we cannot read costs that record, not the browse
                log.debug("skipped an mDNS record while keeping targets", exc_info=True)

    def async_update_records_complete(self) -> None:
        return None

    def _take(self, record: DNSRecord, now: float) -> None:
        key = record.name.lower()
        if record.type not in (_TYPE_SRV, _TYPE_TXT) or not key.endswith("." + SERVICE_TYPE):
            return
        until = 0.0 if record.ttl == 0 else record.get_expiration_time(100)  # 0: a goodbye
        if isinstance(record, DNSService):
            target = (record.server.lower(), record.port)
            new = self._put(self._targets, key, target, until, now, MAX_TARGETS)
            if new and key in self.followed:
                self.changed(key)
        elif isinstance(record, DNSText):
            self._put(self._texts, key, record.text, until, now, MAX_TEXTS, newest=True)

    def _put(
        self,
        table: dict[str, dict[Any, float]],
        key: str,
        item: Any,
        until: float,
        now: float,
        limit: int,
        *,
        newest: bool = False,
    ) -> bool:
        """Keeps ``item`` until ``until`` (drops it, when that is past); whether it is new.

        When ``limit`` items are kept, a new one is refused; with ``newest``, the
        oldest is dropped for it instead (and an item seen again is the newest).
        """
        items = table.get(key)
        if items is None:
            if until <= now:
                return False
            if len(table) >= MAX_NAMES:
                self._log_full(key)
                return False
            items = table[key] = {}
        for old in [old for old, ends in items.items() if ends <= now]:
            del items[old]  # its TTL ended: it frees its place
        if until <= now:
            items.pop(item, None)
            return False
        new = item not in items
        if newest:
            items.pop(item, None)
            while len(items) >= limit:
                del items[next(iter(items))]
        elif new and len(items) >= limit:
            self._log_full(key)
            return False
        items[item] = until
        return new

    def _log_full(self, key: str) -> None:
        if not self._full_logged:
            self._full_logged = True
            log.warning(
                "too many mDNS answers (first: %r); later ones are ignored until earlier "
                "ones expire",
                key,
            )


def _live(items: dict[Any, float] | None, now: float) -> list[Any]:
    return [item for item, until in (items or {}).items() if until > now]


def _properties(text: bytes) -> Mapping[bytes, bytes | None]:
    return ServiceInfo(SERVICE_TYPE, SERVICE_TYPE, properties=text).properties


def text_for(port: int, texts: Sequence[bytes], *, alone: bool) -> Mapping[bytes, bytes | None]:
    """The TXT record (newest first in ``texts``) that goes with the SRV target on ``port``.

    With one target, it is the newest TXT record, whatever it says (the browser
    refuses one that says nonsense). With several, ours name the gRPC port, which is
    the SRV port: a TXT record that names another port is another announcer's and
    is passed over; one that names it wins; failing both, one that names no port
    (or a malformed one, which the browser then refuses); failing all: none.
    """
    fitting: Mapping[bytes, bytes | None] | None = None
    for text in texts:
        try:
            properties = _properties(text)
        except Exception:  # a TXT record that cannot be unpacked says nothing
            continue
        if alone:
            return properties
        named = properties.get(b"grpc")
        if named == str(port).encode():
            return properties
        other = isinstance(named, bytes) and _PORT.fullmatch(named) is not None
        if not other and fitting is None:
            fitting = properties
    return fitting or {}
