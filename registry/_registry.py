"""The live table of tool services, and who is trusted.

Discovery is an address hint, never trust. Every sighting (mDNS, static, file)
is a row per name *and address*, admitted only after the service itself answers
``Describe`` on the row's own channel:

- it speaks our protocol version;
- the name it gives is the name it was announced under (else: spoofed or stale);
- the name is on ``allow``, when ``allow`` is given;
- with a ``token``, it proves it knows the token (an HMAC over our nonce and a
  fresh session) without the token ever being sent; its tools are then called
  on that same channel, every request and answer MAC'd in that session;
  without one, it must not need one;
- no earlier row already serves that name or that address: a second address
  claiming a name never replaces or hides the first (with a token: shown as
  ``duplicate`` and used if the first goes; without: ``refused``, because
  nothing tells the real one from an impostor but who came first);
- its labels match the selector (else it is shown, ``unselected``, not used).

``allow`` without a token is not trust: such rows say ``unproven``. A goodbye
removes a row at once (a proven one is then asked for again, since anyone can
send a goodbye). A service that
stops answering the gRPC health check ``health_failures`` times in a row is
removed (mDNS) or marked unreachable and retried (static and file entries).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
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
        self._made = 0
        # Set by the mDNS browser: asks the network anew for a key whose row was
        # removed without a goodbye, so that a restart with the same records is seen.
        self.requery: Callable[[str], None] = lambda key: None
        # Set by the mDNS browser: forgets the target of a row that stopped answering,
        # so that it is not reported again until it is announced anew.
        self.forget_target: Callable[[Sighting], None] = lambda sighting: None
        self._tg: anyio.abc.TaskGroup | None = None
        self._changed = anyio.Event()
        self.version = 0

    def services(self) -> list[Service]:
        """Every row now, by name."""
        return sorted(self._rows.values(), key=lambda s: (s.name, s.sighting.key, s.order))

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
        """A service was seen (again, perhaps changed); it is admitted anew if it changed.

        A sighting at another address than a row of the same key is a row of its
        own, with its own channel: the first row is neither replaced nor re-pointed.
        """
        row = self._rows.get(sighting.ident)
        if row is not None and row.sighting == sighting and row.status != "unreachable":
            return
        if row is None:
            self._made += 1
            row = self._rows[sighting.ident] = Service(sighting=sighting, order=self._made)
            self.touch()
        else:
            row.sighting = sighting
        if self._tg is not None:
            self._tg.start_soon(self._admit, row)

    def gone(self, key: str, *, why: str = "said goodbye") -> None:
        """Every row of ``key`` left (goodbye, or its line left the file): removed at once.

        A goodbye is unauthenticated (anyone on the LAN can send one), so after a
        proven row leaves, the network is asked for it again: a service that is still
        there is back at once, and a spoofed goodbye never lets another take its name.
        """
        rows = [r for r in self._rows.values() if r.sighting.key == key]
        for row in rows:
            self._remove(row, why)
        if any(r.description is not None and r.description.proven for r in rows):
            self.requery(key)

    def _remove(self, row: Service, why: str) -> None:
        if self._rows.get(row.ident) is not row:
            return
        del self._rows[row.ident]
        log.info("%s (%s) %s; removed", row.name, row.sighting.target, why)
        self._rejudge()
        self.touch()
        if self._tg is not None:
            self._tg.start_soon(self._drop, row)

    async def _drop(self, row: Service) -> None:
        channel, row.channel = row.channel, None
        if channel is not None:
            with anyio.CancelScope(shield=True):
                await channel.close(CLOSE_GRACE)

    def _set(self, row: Service, status: str, reason: str = "", trust: str = "-") -> None:
        if (row.status, row.reason, row.trust) == (status, reason, trust):
            return
        row.status, row.reason, row.trust = status, reason, trust  # type: ignore[assignment]
        if status == "refused":
            log.warning("refused %s at %s: %s", row.name, row.sighting.target, reason)
        elif status == "ok":
            log.info("using %s at %s (%s)", row.name, row.sighting.target, trust)
        self.touch()

    async def _admit(self, row: Service) -> None:
        sighting = row.sighting
        if self._rows.get(sighting.ident) is not row:
            return  # removed before this check began: no channel to open
        if row.channel is None:
            row.channel = self.policy.channel(sighting).open()
        try:
            description = await describe(row.channel, token=self.policy.token)
        except grpc.aio.AioRpcError as exc:
            self._unreachable(row, f"{exc.code().name}: {exc.details()}")
            return
        if self._rows.get(sighting.ident) is not row or row.sighting != sighting:
            return  # removed or seen anew while we asked
        row.description, row.failures = description, 0
        if row.status in ("checking", "unreachable"):
            row.status = "refused"  # judged below, with every other row
        self._rejudge()

    def _rejudge(self) -> None:
        """Judges every answered row, oldest first: the first claim on a name keeps it."""
        names: dict[str, Service] = {}
        targets: dict[str, Service] = {}
        for row in sorted(self._rows.values(), key=lambda r: r.order):
            if row.description is None or row.status in ("checking", "unreachable"):
                continue
            status, reason, trust = self._judge(row, names, targets)
            self._set(row, status, reason, trust)
            if status == "ok":
                names[row.description.instance] = row
                targets[row.sighting.target] = row

    def _judge(
        self, row: Service, names: dict[str, Service], targets: dict[str, Service]
    ) -> tuple[str, str, str]:
        d, s, policy = row.description, row.sighting, self.policy
        assert d is not None
        refused = self._refusal(row)
        if refused is not None:
            return "refused", refused, f"refused: {refused}"
        if d.proven:
            trust = "proven"
        elif policy.allow:
            trust = "unproven (allow list only)"
        else:
            trust = "unproven (no token)"
        other = names.get(d.instance) or targets.get(s.target)
        if other is not None and (d.proven or other.sighting.target == s.target):
            return "duplicate", f"the same as {other.name} at {other.sighting.target}", trust
        if other is not None:
            why = (
                f"claims the name {d.instance!r}, which {other.sighting.target} already has; "
                "without a token nothing tells the real one from an impostor, so the first "
                "keeps it (set token to prove it)"
            )
            return "refused", why, f"refused: {why}"
        if any(d.labels.get(k) != v for k, v in policy.selector.items()):
            return "unselected", "its labels do not match the selector", trust
        return "ok", "", trust

    def _refusal(self, row: Service) -> str | None:
        d, s, policy = row.description, row.sighting, self.policy
        assert d is not None
        if d.version != PROTOCOL_VERSION:
            return f"speaks protocol v{d.version}; this brainjar speaks v1"
        if s.instance is not None and s.instance != d.instance:
            return (
                f"announced as {s.instance!r} but the service says it is {d.instance!r} "
                "(a spoofed or stale announcement)"
            )
        if policy.allow and d.instance not in policy.allow:
            return f"{d.instance!r} is not on the allow list"
        if policy.token and not d.proven:
            return (
                "it does not prove it knows the token (a spoofed announcement, or a "
                "service with another token); nothing was sent to it"
            )
        if not policy.token and d.token_required:
            return "it needs a token; set token in the discover entry"
        return None

    def _unreachable(self, row: Service, why: str) -> None:
        row.failures += 1
        if row.failures < self.health_failures:
            return  # a blip, or a service still starting: asked again next round
        if row.sighting.origin == "mdns":
            self._remove(row, f"stopped answering ({why})")
            self.forget_target(row.sighting)
            if not any(r.sighting.key == row.sighting.key for r in self._rows.values()):
                self.requery(row.sighting.key)
        else:
            self._set(row, "unreachable", why)
            self._rejudge()

    async def _check(self, row: Service) -> None:
        if self._rows.get(row.ident) is not row:
            return
        if row.status in ("unreachable", "checking") or row.channel is None:
            await self._admit(row)
        elif await health_check(row.channel):
            row.failures = 0
        else:
            self._unreachable(row, "the health check failed")
