"""The tools of discovered services, as one tool source that follows the live table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import anyio
import anyio.abc
from brainjar.adapters.grpc import Channel, GrpcToolSource

from brainjar._errors import BrainjarError, DiscoveryError
from brainjar.protocols import ToolSource
from brainjar.tools import ChangeSignal, Tool, union, wait_any_changed

from ._browser import browse
from ._dns import DnsFeed, DnsSettings
from ._interfaces import resolve_interfaces
from ._registry import HEALTH_FAILURES, HEALTH_INTERVAL, Policy, Registry
from ._static import static_sightings, watch_file
from ._table import Service

__all__ = ["DiscoverSettings", "DiscoverSource", "policy_from_config", "start_feeds"]

log = logging.getLogger("brainjar.registry")

# How long opening waits for the entries seen so far to be admitted and opened.
ADMIT_WAIT = 5.0
# How long opening listens for mDNS answers first (responders answer within ~0.5 s),
# so that `brainjar tools` and a jar's first step see the services already up.
INITIAL_BROWSE = 1.0


@dataclass(frozen=True, kw_only=True)
class DiscoverSettings:
    """Where to look for tool services and whom to trust (a ``discover`` entry).

    Attributes:
        selector: labels a service must have.
        transport: ``grpc`` or ``mcp`` (MCP streamable HTTP), for the tool calls.
        allow: instance names to trust; empty: any.
        token: the token services must prove they know; brainjar never sends it
            (requests and answers are MAC'd with it).
        static: ``host:port`` of services to use as well.
        file: a file of ``host:port`` lines, re-read when it changes.
        interfaces: where to browse mDNS; None: loopback only.
        multicast: browse mDNS at all.
        ca: PEM certificates to trust for TLS services.
        dns: SRV records that name services, re-read on their TTL.
    """

    selector: Mapping[str, str] = field(default_factory=dict)
    transport: Literal["grpc", "mcp"] = "grpc"
    allow: Sequence[str] = ()
    token: str | None = None
    static: Sequence[str] = ()
    file: Path | None = None
    interfaces: Sequence[str] | None = None
    multicast: bool = True
    ca: Path | None = None
    dns: DnsSettings | None = None


def policy_from_config(config: DiscoverSettings) -> Policy:
    """The trust policy a discover entry asks for.

    Raises:
        DiscoveryError: the ``ca`` file cannot be read.
    """
    ca = None
    if config.ca is not None:
        try:
            ca = config.ca.read_bytes()
        except OSError as exc:
            raise DiscoveryError(f"cannot read the ca file {config.ca}: {exc}") from None
    return Policy(
        selector=dict(config.selector),
        allow=list(config.allow),
        token=config.token or None,
        ca=ca,
    )


async def start_feeds(
    registry: Registry, config: DiscoverSettings, tg: anyio.abc.TaskGroup
) -> None:
    """Starts the registry and feeds it from mDNS, DNS SRV, static entries and the file.

    Raises:
        DiscoveryError: a static entry, an interface or the DNS settings are wrong
            (before anything starts).
    """
    listed = static_sightings(config.static)
    dns_feed = DnsFeed(config.dns, transport=config.transport) if config.dns else None
    if config.multicast:
        resolve_interfaces(config.interfaces)  # a wrong name fails here, not in a task
    await tg.start(registry.run)
    for sighting in listed:
        registry.seen(sighting)
    if config.file is not None:
        await tg.start(watch_file, config.file, registry.seen, registry.gone)
    if dns_feed is not None:
        await tg.start(dns_feed.run, registry.seen, registry.gone)
    if config.multicast:
        browsing = partial(browse, registry.seen, registry.gone, interfaces=config.interfaces)
        browser = await tg.start(browsing)
        registry.requery, registry.forget_target = browser, browser.forget


class DiscoverSource:
    """The tools of every trusted service that matches the selector, as they come and go.

    ``tools()`` is the union of the services' tools, as each names them; when two
    services offer one name, the first admitted keeps it (give the entry a
    ``prefix``, or narrow the selector). A call to a service that left fails as
    a tool error.

    Args:
        config: where to look and whom to trust.
        health_interval: seconds between health checks.
        health_failures: failed checks before a silent service is removed.
    """

    def __init__(
        self,
        config: DiscoverSettings,
        *,
        health_interval: float = HEALTH_INTERVAL,
        health_failures: int = HEALTH_FAILURES,
    ) -> None:
        self.config = config
        self.registry = Registry(
            policy_from_config(config),
            health_interval=health_interval,
            health_failures=health_failures,
        )
        self._sources: dict[str, ToolSource] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._stack: AsyncExitStack | None = None
        self._warned: set[tuple[str, str]] = set()
        self._changes = ChangeSignal()

    @property
    def name(self) -> str:
        selector = ",".join(f"{k}={v}" for k, v in sorted(self.config.selector.items()))
        return f"discover:{selector or '*'}"

    def tools(self) -> Sequence[Tool]:
        return union(
            list(self._sources.values()),
            warned=self._warned,
            hint="give the discover entry a prefix, or narrow its selector",
        )

    @property
    def version(self) -> int:
        return self._changes.version + sum(s.version for s in list(self._sources.values()))

    async def wait_changed(self, seen: int) -> int:
        return await wait_any_changed(list(self._sources.values()), seen, own=self._changes)

    async def __aenter__(self) -> Self:
        async with AsyncExitStack() as stack:
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            await start_feeds(self.registry, self.config, tg)
            tg.start_soon(self._follow)
            if self.config.multicast:
                await anyio.sleep(INITIAL_BROWSE)  # a browse window, not a readiness wait
            with anyio.move_on_after(ADMIT_WAIT):
                await self._settled()
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def _settled(self) -> None:
        """Waits until no entry is being checked and every usable one is open."""
        version = -1
        while True:
            rows = self.registry.services()
            usable = {r.ident for r in rows if r.status == "ok"}
            if all(r.status != "checking" for r in rows) and usable <= self._opened():
                return
            version = await self.registry.wait_changed(version)

    def _opened(self) -> set[str]:
        return set(self._sources)

    async def _follow(self) -> None:
        version = -1
        async with anyio.create_task_group() as tg:
            while True:
                wanted = {s.ident: s for s in self.registry.usable()}
                for key in set(self._scopes) - set(wanted):
                    self._scopes[key].cancel()
                for key in set(wanted) - set(self._scopes):
                    self._scopes[key] = anyio.CancelScope()
                    tg.start_soon(self._hold, wanted[key], self._scopes[key])
                version = await self.registry.wait_changed(version)

    async def _hold(self, row: Service, scope: anyio.CancelScope) -> None:
        key = row.ident
        try:
            with scope:
                source = self._source_for(row)
                if source is None:
                    return
                try:
                    async with source:
                        self._sources[key] = source
                        self._changes.bump()
                        self.registry.touch()
                        log.info("%s: tools %s", source.name, [t.name for t in source.tools()])
                        await anyio.sleep_forever()
                except BrainjarError as exc:
                    log.warning("cannot use the tools of %s: %s", row.name, exc)
        finally:
            if self._sources.pop(key, None) is not None:
                self._changes.bump()
            if self._scopes.get(key) is scope:
                del self._scopes[key]

    def _source_for(self, row: Service) -> ToolSource | None:
        s, policy = row.sighting, self.registry.policy
        if self.config.transport == "grpc":
            if row.channel is None:
                return None  # removed meanwhile
            # The tools are called on the very channel the proof was checked on, in the
            # session it opened: a second sighting at another address cannot slip in.
            channel = Channel(
                target=s.target, token=policy.token, ca=policy.ca, tls=s.tls or bool(policy.ca)
            )
            grpc_source: ToolSource = GrpcToolSource(
                channel,
                name=f"grpc:{row.name}@{s.target}",
                connection=row.channel,
                session=row.description.session if row.description else None,
            )
            return grpc_source
        if policy.token:
            log.warning(
                "%s: transport mcp would send the token itself to %s, whose MCP port is not "
                "proven (a relay could take it); it is left out: use transport grpc",
                row.name,
                s.host,
            )
            return None
        port = (row.description.ports if row.description else {}).get("mcp") or s.mcp_port
        if s.origin == "dns" and s.mcp_port:
            port = s.mcp_port  # the port DNS names is the one the network maps to it
        if not port:
            log.warning("%s offers no MCP transport; it is left out", row.name)
            return None
        from brainjar.adapters.mcp import McpServer, McpSource

        url = f"http://{s.host}:{port}{s.mcp_path}"
        mcp: ToolSource = McpSource(McpServer(url=url, name=row.name))
        return mcp
