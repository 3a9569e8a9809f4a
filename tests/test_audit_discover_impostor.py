"""`brainjar discover` shows a refused impostor under the name it was announced with.

Issue 11 #10: a refused row was labelled with the real service's name. Real mDNS
(zeroconf on loopback only), a real gRPC tool server announced as "evil-..." that says
it is the real service "docs-..."; the rows are what ``brainjar discover
--json`` prints (``brainjar.cli._discover.snapshot``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import anyio
from brainjar.adapters.grpc import ToolServer, serve_grpc
from brainjar.registry import SERVICE_TYPE, DiscoverSettings, DiscoverSource
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from brainjar.cli._discover import snapshot

LOOPBACK = ["127.0.0.1"]
# mDNS probing takes about 1.6 s here; the checks that follow, a few more.
SEEN_LIMIT = 30.0
POLL = 0.05


async def _eventually(predicate: Callable[[], bool]) -> None:
    """Polls: the registry's rows change in zeroconf's callbacks, with no event to await."""
    with anyio.fail_after(SEEN_LIMIT):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(POLL)


async def test_a_refused_impostor_is_shown_under_its_announced_name_with_the_reason() -> None:
    uid = uuid.uuid4().hex[:8]
    announced, claimed = f"evil-{uid}", f"docs-{uid}"  # it says it is the real "docs"
    server = ToolServer(tools=lambda: [], instance=claimed)
    settings = DiscoverSettings(selector={"mesh": uid}, interfaces=LOOPBACK)
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_grpc, server)
        zc = AsyncZeroconf(interfaces=LOOPBACK)
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{announced}.{SERVICE_TYPE}",
            port=port,
            properties={"v": "1", "grpc": str(port), "l.mesh": uid},
            parsed_addresses=["127.0.0.1"],
            server=f"impostor-{uid}.local.",
        )
        try:
            await (await zc.async_register_service(info))
            async with DiscoverSource(settings) as source:
                registry = source.registry

                def ours() -> list[dict[str, Any]]:
                    # By port: other tests may announce their own services on loopback.
                    rows = snapshot(registry)
                    return [r for r in rows if r.get("ports", {}).get("grpc") == port]

                await _eventually(lambda: any(r["status"] != "checking" for r in ours()))
                (row,) = ours()
        finally:
            with anyio.CancelScope(shield=True):
                await (await zc.async_unregister_service(info))
                await zc.async_close()
        tg.cancel_scope.cancel()
    assert row["status"] == "refused", row
    assert row["name"] == announced, row  # the announced name, not the one it claims
    assert f"announced as {announced!r}" in row["reason"] and repr(claimed) in row["reason"], row
    assert not source.tools()
