"""The tool mesh end to end: serve-tools processes, mDNS on 127.0.0.1, the discover source."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import anyio
import pytest
from brainjar.registry import DiscoverSettings, DiscoverSource
from mesh_support import eventually, rows_of, tool_service, write_service

LOOPBACK = ["127.0.0.1"]


def _uid() -> str:
    """A label value unique to one test. It starts with a letter: YAML reads a bare
    ``12345678`` or ``12e45678`` (hex digits can be both) as a number, not a label."""
    return "m" + uuid.uuid4().hex[:8]


def _names(source: DiscoverSource) -> set[str]:
    return {t.name for t in source.tools()}


def _source(uid: str, **kwargs: object) -> DiscoverSource:
    config = DiscoverSettings(selector={"mesh": uid}, interfaces=LOOPBACK, **kwargs)  # type: ignore[arg-type]
    return DiscoverSource(config, health_interval=0.3, health_failures=2)


async def test_discovered_then_removed_after_goodbye(tmp_path: Path) -> None:
    uid = _uid()
    manifest = write_service(tmp_path, f"svc-{uid}", labels={"mesh": uid})
    async with _source(uid) as source:
        assert _names(source) == set()
        async with tool_service(manifest) as service:
            await eventually(lambda: {"echo", "slow"} <= _names(source))
            echo = next(t for t in source.tools() if t.name == "echo")
            assert (await echo.call({"text": "over the mesh"})).content == "over the mesh"
            assert echo.source.startswith(f"grpc:svc-{uid}@127.0.0.1:")
            service.signal(signal.SIGTERM)
            await eventually(lambda: _names(source) == set())
            with anyio.fail_after(10):
                assert await service.process.wait() == 0
            assert service.event("goodbye") and service.event("stopped")
            result = await echo.call({"text": "anyone?"})
            assert result.is_error


async def test_killed_service_is_removed_by_health_check(tmp_path: Path) -> None:
    uid = _uid()
    manifest = write_service(tmp_path, f"svc-{uid}", labels={"mesh": uid})
    async with _source(uid) as source, tool_service(manifest) as service:
        await eventually(lambda: "slow" in _names(source))
        slow = next(t for t in source.tools() if t.name == "slow")
        results = []

        async def call() -> None:
            results.append(await slow.call({"seconds": 30}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            service.signal(signal.SIGKILL)
            await eventually(lambda: bool(results))
        assert results[0].is_error, results[0]
        await eventually(lambda: _names(source) == set())
        rows = source.registry.services()
        assert not [r for r in rows if r.sighting.instance == f"svc-{uid}"]


async def test_token_and_tls_are_enforced(tmp_path: Path) -> None:
    from tls_support import write_self_signed

    uid = _uid()
    cert, key = write_self_signed(tmp_path)
    extra = f"token: ${{MESH_TOKEN}}\ntls: {{cert: {cert}, key: {key}}}\n"
    manifest = write_service(tmp_path, f"sec-{uid}", labels={"mesh": uid}, extra=extra)
    async with tool_service(manifest, env={"MESH_TOKEN": "right"}) as service:
        static = [f"127.0.0.1:{service.grpc_port}"]
        async with _source(uid, token="wrong", ca=cert, static=static) as wrong:
            rows = wrong.registry.services()
            assert rows and all(r.status == "refused" for r in rows), rows
            assert "token" in rows[0].reason
            assert _names(wrong) == set()
        async with _source(uid, token="right", ca=cert, static=static) as right:
            await eventually(lambda: "echo" in _names(right))
            echo = next(t for t in right.tools() if t.name == "echo")
            assert (await echo.call({"text": "tls"})).content == "tls"
        async with _source(uid, token="right", static=static, multicast=False) as no_ca:
            rows = no_ca.registry.services()
            assert rows and rows[0].status == "unreachable", rows


async def test_address_file_is_reread(tmp_path: Path) -> None:
    uid = _uid()
    manifest = write_service(tmp_path, f"file-{uid}", labels={"mesh": uid})
    addresses = tmp_path / "services.txt"
    addresses.write_text("# none yet\n")
    async with (
        tool_service(manifest) as service,
        _source(uid, file=addresses, multicast=False) as source,
    ):
        assert _names(source) == set()
        addresses.write_text(f"127.0.0.1:{service.grpc_port}  # the echo service\n")
        await eventually(lambda: "echo" in _names(source))
        assert source.registry.services()[0].sighting.origin == "file"
        addresses.write_text("")
        await eventually(lambda: _names(source) == set())


@pytest.mark.parametrize("case", ["no-token", "not-allowed", "wrong-name"])
async def test_spoofed_announcements_are_refused(case: str) -> None:
    from brainjar.adapters.grpc import ToolServer, serve_grpc
    from brainjar.registry import SERVICE_TYPE
    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

    uid = _uid()
    real_name = f"spoof-{uid}"
    server = ToolServer(tools=lambda: [], instance=real_name if case != "wrong-name" else "evil")
    kwargs: dict[str, object] = {
        "no-token": {"token": "secret"},
        "not-allowed": {"allow": ["somebody-else"]},
        "wrong-name": {},
    }[case]
    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_grpc, server)
        zc = AsyncZeroconf(interfaces=LOOPBACK)
        info = ServiceInfo(
            SERVICE_TYPE,
            f"{real_name}.{SERVICE_TYPE}",
            port=port,
            properties={"v": "1", "grpc": str(port), "l.mesh": uid, "auth": "token"},
            parsed_addresses=["127.0.0.1"],
            server="spoof.local.",
        )
        try:
            await (await zc.async_register_service(info))
            async with _source(uid, **kwargs) as source:
                # Other tests' services on loopback show up too, as unselected rows.
                await eventually(
                    lambda: any(row.status != "checking" for row in rows_of(source, real_name))
                )
                rows = rows_of(source, real_name)
                assert len(rows) == 1, rows
                [row] = rows
                assert row.status == "refused", row
                assert _names(source) == set()
                expected = {"no-token": "token", "not-allowed": "allow", "wrong-name": "spoofed"}
                assert expected[case] in row.reason
        finally:
            with anyio.CancelScope(shield=True):
                await (await zc.async_unregister_service(info))
                await zc.async_close()
        tg.cancel_scope.cancel()


async def test_discovered_over_mcp_http(tmp_path: Path) -> None:
    """transport: mcp reaches the same service's tools over MCP streamable HTTP."""
    uid = _uid()
    manifest = write_service(tmp_path, f"mcp-{uid}", labels={"mesh": uid}, extra="mcp: {port: 0}\n")
    async with _source(uid, transport="mcp") as source, tool_service(manifest) as service:
        await eventually(lambda: "echo" in _names(source))
        echo = next(t for t in source.tools() if t.name == "echo")
        assert echo.source.startswith("mcp:")
        assert (await echo.call({"text": "over MCP"})).content == "over MCP"
        service.signal(signal.SIGTERM)
        await eventually(lambda: _names(source) == set())
