"""Announcing a tool service: ``_brainjar._tcp.local.`` with its ports, digest and labels.

On a network, zeroconf probes for the name first (RFC 6762 8.1: three probes,
here 500 ms apart, about 1.2 s) and the announcement is sent three times. On
loopback every responder is on this machine and answers within milliseconds,
and zeroconf's probing would not notice the name anyway if another process
already announced it (it looks for a pointer record; answers to a probe carry
none): the announcer asks for the name itself, up to ``LOOPBACK_PROBES`` times
(RFC 6762's three probes), each waiting ``LOOPBACK_PROBE`` for an answer (a holder
whose process is busy may answer the second or third question late), takes
``<name>-2``, ``-3``... while the name is answered, and registers without
zeroconf's probe. Either way it is open once the first announcement is out; the
repeats follow while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import anyio
from zeroconf import BadTypeInNameException, DNSQuestionType, NonUniqueNameException, ServiceInfo
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from brainjar._errors import DiscoveryError

from ._interfaces import open_zeroconf, resolve_interfaces

__all__ = ["SERVICE_TYPE", "Announcer", "txt_properties"]

log = logging.getLogger("brainjar.registry")

SERVICE_TYPE = "_brainjar._tcp.local."
# Limit on registering (mDNS probing takes about 1.2 s on a network) and on the goodbye.
REGISTER_TIMEOUT = 15.0
UNREGISTER_TIMEOUT = 5.0
# On loopback: how long a question for the name waits for its holder to answer, how
# many questions a name gets before it counts as free, and how many taken names
# (<name>-2, -3...) are passed over before giving up.
LOOPBACK_PROBE = 0.25
LOOPBACK_PROBES = 3
MAX_RENAMES = 32
# TXT keys for labels start with this, so that labels never clash with ours.
LABEL_PREFIX = "l."


def txt_properties(
    *,
    version: str,
    ports: Mapping[str, int],
    digest: str,
    labels: Mapping[str, str],
    tls: bool = False,
    token: bool = False,
    mcp_path: str | None = None,
) -> dict[str, str]:
    """The TXT record: protocol version, transports and ports, tool digest, labels."""
    props = {"v": version, "digest": digest, "tls": "1" if tls else "0"}
    props["auth"] = "token" if token else "none"
    props.update({name: str(port) for name, port in ports.items()})
    if mcp_path and "mcp" in ports:
        props["mcppath"] = mcp_path
    props.update({LABEL_PREFIX + k: v for k, v in labels.items()})
    return props


class Announcer:
    """Keeps one service registered while open; says goodbye when closed.

    Args:
        instance: the wanted instance name; if another service holds it on the
            network, zeroconf picks a free variant (see ``instance`` after opening).
        port: the port of the service (gRPC).
        properties: the TXT record.
        interfaces: where to announce; default loopback only.
    """

    def __init__(
        self,
        instance: str,
        *,
        port: int,
        properties: Mapping[str, str],
        interfaces: list[str] | None = None,
    ) -> None:
        self.wanted = instance
        self.port = port
        self.properties = dict(properties)
        self.interfaces = resolve_interfaces(interfaces)
        self._zc: AsyncZeroconf | None = None
        self._info: ServiceInfo | None = None
        self._repeats: asyncio.Future[None] | None = None

    @property
    def instance(self) -> str:
        """The instance name as registered (it may differ from the wanted one)."""
        if self._info is None:
            return self.wanted
        return self._info.name.removesuffix("." + SERVICE_TYPE)

    def _info_for(self, name: str, properties: Mapping[str, str]) -> ServiceInfo:
        host = socket.gethostname().split(".")[0] or "brainjar"
        return ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=self.port,
            properties=dict(properties),
            parsed_addresses=self.interfaces.addresses,
            server=f"{host}.local.",
        )

    async def _free_name(self, zc: AsyncZeroconf) -> str:
        """The wanted name, or the first ``<name>-<n>`` nobody on loopback answers for."""
        for n in range(1, MAX_RENAMES + 1):
            name = self.wanted if n == 1 else f"{self.wanted}-{n}"
            if not await self._answered(zc, name):
                return name
        raise NonUniqueNameException(f"{self.wanted!r} to {self.wanted}-{MAX_RENAMES} are taken")

    @staticmethod
    async def _answered(zc: AsyncZeroconf, name: str) -> bool:
        """Whether a holder of ``name`` answers any of ``LOOPBACK_PROBES`` questions."""
        wait = int(LOOPBACK_PROBE * 1000)
        for _ in range(LOOPBACK_PROBES):
            asked = AsyncServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}")
            # Multicast answers (QM): a unicast one may go to another process's socket.
            if await asked.async_request(zc.zeroconf, wait, DNSQuestionType.QM):
                return True
        return False

    async def _register(self, zc: AsyncZeroconf) -> ServiceInfo:
        """Registers; returns once the first announcement is out (the repeats follow)."""
        if self.interfaces.loopback:
            info = self._info_for(await self._free_name(zc), self.properties)
            repeats = await zc.async_register_service(info, cooperating_responders=True)
        else:
            info = self._info_for(self.wanted, self.properties)
            repeats = await zc.async_register_service(info, allow_name_change=True)
        # zeroconf's own task (already scheduled): kept to be cancelled at the goodbye.
        self._repeats = asyncio.ensure_future(repeats)
        await anyio.lowlevel.checkpoint()  # it runs first: the first announcement goes out
        return info

    async def __aenter__(self) -> Self:
        self._zc = await open_zeroconf(self.interfaces)
        try:
            with anyio.fail_after(REGISTER_TIMEOUT):
                info = await self._register(self._zc)
        except (BadTypeInNameException, NonUniqueNameException, TimeoutError) as exc:
            await self._close()
            raise DiscoveryError(f"cannot announce {self.wanted!r}: {exc or 'timed out'}") from None
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._close()
            raise
        self._info = info
        if self.instance != self.wanted:
            log.warning(
                "the name %r is taken on the network; announced as %r", self.wanted, self.instance
            )
        return self

    async def update(self, properties: Mapping[str, str]) -> None:
        """Announces a new TXT record (the tool list changed)."""
        if self._zc is None or self._info is None or dict(properties) == self.properties:
            return
        self.properties = dict(properties)
        self._info = self._info_for(self.instance, self.properties)
        with anyio.fail_after(REGISTER_TIMEOUT):
            await (await self._zc.async_update_service(self._info))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._close()

    async def _close(self) -> None:
        zc, self._zc = self._zc, None
        repeats, self._repeats = self._repeats, None
        if repeats is not None and not repeats.done():
            repeats.cancel()  # no announcement after the goodbye
        if zc is None:
            return
        try:
            if self._info is not None:
                with anyio.move_on_after(UNREGISTER_TIMEOUT):
                    await (await zc.async_unregister_service(self._info))  # the goodbye
        finally:
            self._info = None
            await zc.async_close()
