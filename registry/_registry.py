"""The live table of tool services, and who is trusted.

Discovery is an address hint, never trust. Every sighting (mDNS, static, file)
is admitted only after the service itself answers ``Describe``:

- it speaks our protocol version;
- the name it gives is the name it was announced under (else: spoofed or stale);
- the name is on ``allow``, when ``allow`` is given;
- with a ``token``, it proves it knows the token (an HMAC over our nonce)
  before the token is ever sent to it; without one, it must not need one;
- no other row already serves that name or that address (duplicates);
- its labels match the selector (else it is shown, ``unselected``, not used).

A goodbye removes a row at once; a service that stops answering the gRPC
health check ``health_failures`` times in a row is removed (mDNS) or marked
unreachable and retried (static and file entries).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.abc
import grpc
from anyio.abc import TaskStatus
from brainjar.adapters.grpc import PROTOCOL_VERSION, Channel, describe, health_check

from ._table import Service, Sighting

__all__ = ["HEALTH_FAILURES", "HEALTH_INTERVAL", "Policy", "Registry"]

log = logging.getLogger("brainjar.registry")

# How often every row is health-checked (and unreachable ones retried).
HEALTH_INTERVAL = 1.0
# Failed checks in a row before a row is removed (mDNS) or marked unreachable.
HEALTH_FAILURES = 2
# How long closing a row's channel lets its calls finish.
CLOSE_GRACE = 0.5


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What a service must be to be used.

    Attributes:
        selector: labels it must have.
        allow: instance names to trust; empty: any.
        token: the token it must prove it knows (and that is then sent to it).
        ca: PEM certificates to trust for services that announce TLS.
    """

    selector: Mapping[str, str] = field(default_factory=dict)
    allow: Sequence[str] = ()
    token: str | None = None
    ca: bytes | None = None

    def channel(self, sighting: Sighting) -> Channel:
        """How to reach a sighted service (without sending the token yet)."""
        tls = sighting.tls or self.ca is not None
        return Channel(target=sighting.target, token=self.token, ca=self.ca, tls=tls)


class Registry:
    """The live table. Run it with ``await tg.start(registry.run)``.

    Producers (the mDNS browser, static and file entries) call ``seen`` and
    ``gone``; readers call ``services()`` and wait on ``wait_changed``.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        health_interval: float = HEALTH_INTERVAL,
        health_failures: int = HEALTH_FAILURES,
    ) -> None:
        self.policy = policy
        self.health_interval = health_interval
        self.health_failures = health_failures
        self._rows: dict[str, Service] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()
        self.version = 0

    def services(self) -> list[Service]:
        """Every row now, by name."""
        return sorted(self._rows.values(), key=lambda s: (s.name, s.sighting.key))

    def usable(self) -> list[Service]:
        """The rows whose tools may be used."""
        return [s for s in self.services() if s.status == "ok"]

    async def wait_changed(self, version: int) -> int:
        """Waits until the table is newer than ``version``; returns the new version."""
        while self.version == version:
            await self._changed.wait()
        return self.version

    def touch(self) -> None:
        """Wakes everyone waiting on ``wait_changed``."""
        self.version += 1
        self._changed.set()
        self._changed = anyio.Event()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Admits sightings and checks health until cancelled."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                task_status.started()
                while True:
                    await anyio.sleep(self.health_interval)
                    for row in list(self._rows.values()):
                        tg.start_soon(self._check, row)
        finally:
            self._tg = None
            with anyio.CancelScope(shield=True):
                for row in list(self._rows.values()):
                    await self._drop(row)
                self._rows.clear()

    def seen(self, sighting: Sighting) -> None:
        """A service was seen (again, perhaps changed); it is admitted anew if it changed."""
        row = self._rows.get(sighting.key)
        if row is not None and row.sighting == sighting and row.status != "unreachable":
            return
        if row is None:
            row = self._rows[sighting.key] = Service(sighting=sighting)
            self.touch()
        else:
            row.sighting = sighting
        if self._tg is not None:
            self._tg.start_soon(self._admit, row)

    def gone(self, key: str, *, why: str = "said goodbye") -> None:
        """A service left (goodbye, or its line left the file): removed at once."""
        row = self._rows.pop(key, None)
        if row is None:
            return
        log.info("%s (%s) %s; removed", row.name, row.sighting.target, why)
        self.touch()
        if self._tg is not None:
            self._tg.start_soon(self._drop, row)

    async def _drop(self, row: Service) -> None:
        channel, row.channel = row.channel, None
        if channel is not None:
            with anyio.CancelScope(shield=True):
                await channel.close(CLOSE_GRACE)

    def _set(self, row: Service, status: str, reason: str = "") -> None:
        if (row.status, row.reason) == (status, reason):
            return
        row.status, row.reason = status, reason  # type: ignore[assignment]
        if status == "refused":
            log.warning("refused %s at %s: %s", row.name, row.sighting.target, reason)
        elif status == "ok":
            log.info("using %s at %s", row.name, row.sighting.target)
        self.touch()

    async def _admit(self, row: Service) -> None:
        sighting = row.sighting
        if row.channel is None:
            row.channel = self.policy.channel(sighting).open()
        try:
            description = await describe(row.channel, token=self.policy.token)
        except grpc.aio.AioRpcError as exc:
            self._unreachable(row, f"{exc.code().name}: {exc.details()}")
            return
        if self._rows.get(sighting.key) is not row or row.sighting != sighting:
            return  # removed or seen anew while we asked
        row.description, row.failures = description, 0
        self._set(row, *self._judge(row))

    def _judge(self, row: Service) -> tuple[str, str]:
        d, s, policy = row.description, row.sighting, self.policy
        assert d is not None
        if d.version != PROTOCOL_VERSION:
            return "refused", f"speaks protocol v{d.version}; this brainjar speaks v1"
        if s.instance is not None and s.instance != d.instance:
            return "refused", (
                f"announced as {s.instance!r} but the service says it is {d.instance!r} "
                "(a spoofed or stale announcement)"
            )
        if policy.allow and d.instance not in policy.allow:
            return "refused", f"{d.instance!r} is not on the allow list"
        if policy.token and not d.proven:
            return "refused", (
                "it does not prove it knows the token (a spoofed announcement, or a "
                "service with another token); the token was not sent to it"
            )
        if not policy.token and d.token_required:
            return "refused", "it needs a token; set token in the discover entry"
        for other in self._rows.values():
            if other is row or other.status != "ok":
                continue
            if other.name == d.instance or other.sighting.target == s.target:
                return "duplicate", f"the same as {other.name} at {other.sighting.target}"
        if any(d.labels.get(k) != v for k, v in policy.selector.items()):
            return "unselected", "its labels do not match the selector"
        return "ok", ""

    def _unreachable(self, row: Service, why: str) -> None:
        row.failures += 1
        if row.failures < self.health_failures:
            return  # a blip, or a service still starting: asked again next round
        if row.sighting.origin == "mdns":
            self.gone(row.sighting.key, why=f"stopped answering ({why})")
        else:
            self._set(row, "unreachable", why)

    async def _check(self, row: Service) -> None:
        if self._rows.get(row.sighting.key) is not row:
            return
        if row.status in ("unreachable", "checking") or row.channel is None:
            await self._admit(row)
        elif await health_check(row.channel):
            row.failures = 0
        else:
            self._unreachable(row, "the health check failed")
