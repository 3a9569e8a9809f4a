"""Several SRV names in one discover entry: the feed, `brainjar discover --dns`, and the
names `brainjar render k8s` gives a jar, all against a real dnsmasq on loopback.

The records are those Kubernetes DNS keeps for a headless Service's named port:
``_grpc._tcp.<service>.<namespace>.svc.cluster.local``, one per ready pod.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream
from brainjar.registry import DiscoverSource, Sighting
from brainjar.registry._dns import DnsFeed, DnsSettings
from dns_support import Dnsmasq, dnsmasq, new_uid, srv, tool_services, write_service
from mesh_support import eventually
from process_support import ended

from brainjar.jar._sources import discover_settings
from brainjar.k8s import RenderOptions, render_manifests
from brainjar.manifest import DiscoverTools, JarManifest, load_manifest

# Limit on `brainjar discover` showing the services (a fresh Python process, then
# a gRPC Describe per service, on a busy machine).
DISCOVER_SHOWS = 90.0
# Limit on `brainjar discover` exiting after SIGTERM.
DISCOVER_STOP = 60.0

NAMESPACE = "agents"
SUFFIX = f"{NAMESPACE}.svc.cluster.local"


def _name(service: str) -> str:
    return f"_grpc._tcp.{service}.{SUFFIX}"


async def test_a_feed_follows_several_names_each_on_its_own(tmp_path: Path) -> None:
    a, b = f"a-0.a.{SUFFIX}", f"b-0.b.{SUFFIX}"
    seen: list[Sighting] = []
    gone: list[tuple[str, str]] = []

    def on_gone(key: str, *, why: str) -> None:
        gone.append((key, why))

    records = srv(_name("a"), a, 7001) + srv(_name("b"), b, 7002)
    async with dnsmasq(tmp_path, records) as server:
        settings = DnsSettings(name=[_name("a"), _name("b"), _name("a")], server=server.server)
        feed = DnsFeed(settings)
        assert [grpc for grpc, _ in feed.names] == [_name("a") + ".", _name("b") + "."]
        async with anyio.create_task_group() as tg:
            await tg.start(feed.run, seen.append, on_gone)
            # Ready only once every name had its first answer.
            assert sorted(s.key for s in seen) == [f"dns:{a}:7001", f"dns:{b}:7002"]
            await server.restart(srv(_name("a"), a, 7001))  # b's Service has no pods now
            await eventually(lambda: bool(gone))
            assert gone == [(f"dns:{b}:7002", f"is no longer in the SRV records of {_name('b')}.")]
            tg.cancel_scope.cancel()


async def _snapshots(process: Any, out: list[list[dict[str, Any]]]) -> None:
    buffer = ""
    async for chunk in TextReceiveStream(process.stdout):
        buffer += chunk
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            if line.startswith("["):
                out.append(json.loads(line))


async def test_discover_lists_the_services_dns_names(tmp_path: Path) -> None:
    uid = new_uid()
    manifest = write_service(tmp_path, "alpha-svc", ["alpha"], uid=uid)
    async with tool_services(manifest) as (alpha,):
        # One name per Service; the second's only pod does not answer.
        records = srv(_name("alpha"), f"10-0-0-1.alpha.{SUFFIX}", alpha.grpc_port)
        records += srv(_name("gone"), f"10-0-0-2.gone.{SUFFIX}", _closed_port(tmp_path))
        async with dnsmasq(tmp_path, records) as server:
            rows = await _discover_json(server, uid, _name("alpha"), _name("gone"))
    ok = next(r for r in rows if r["status"] == "ok")
    assert (ok["name"], ok["status"], ok["origin"]) == ("alpha-svc", "ok", "dns")
    assert ok["labels"] == {"mesh": uid}
    dead = next(r for r in rows if r is not ok)
    assert (dead["origin"], dead["status"]) == ("dns", "unreachable")


def _closed_port(folder: Path) -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _discover_json(server: Dnsmasq, uid: str, *names: str) -> list[dict[str, Any]]:
    """Runs `brainjar discover --dns ... --json --follow` until both rows are settled."""
    command = [sys.executable, "-m", "brainjar", "discover", "--json", "--follow"]
    command += [arg for name in names for arg in ("--dns", name)]
    command += ["--server", server.server, "--selector", f"mesh={uid}"]
    snapshots: list[list[dict[str, Any]]] = []
    process = await anyio.open_process(command, env=dict(os.environ), stderr=None)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_snapshots, process, snapshots)

            def settled() -> bool:
                last = snapshots[-1] if snapshots else []
                return sorted(r["status"] for r in last) == ["ok", "unreachable"]

            await eventually(
                lambda: settled() or process.returncode is not None, limit=DISCOVER_SHOWS
            )
            assert settled(), f"discover exited {process.returncode}: {snapshots}"
            # SIGTERM, not SIGINT: a runner started in the background hands its
            # children SIGINT ignored (and Python keeps it so); SIGTERM always stops it.
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(DISCOVER_STOP):
                await process.wait()
            tg.cancel_scope.cancel()
    finally:
        await ended(process)
    return snapshots[-1]


async def test_rendered_selectors_find_the_matching_services_by_dns(tmp_path: Path) -> None:
    """What `render k8s` writes for a jar finds what cluster DNS would list, and no more."""
    uid = new_uid()
    services = tmp_path / "services"
    services.mkdir()
    alpha = write_service(services, "alpha-svc", ["alpha"], uid=uid)
    beta = write_service(services, "beta-svc", ["beta"], uid=uid)
    # A third ToolService with other labels: rendered, but the jar's selector leaves it out.
    other = services / "other-svc.yaml"
    other.write_text(alpha.read_text().replace("alpha-svc", "other-svc").replace(uid, "other"))
    jar = tmp_path / "jar.yaml"
    jar.write_text(
        "apiVersion: brainjar.dev/v1\nkind: Jar\nmetadata: {name: asker}\n"
        'spec:\n  model: {backend: openai, endpoint: "http://127.0.0.1:9/v1", name: m}\n'
        f"  tools:\n    - discover: {{selector: {{mesh: {uid}}}}}\n"
    )
    options = RenderOptions(image="brainjar:test", namespace=NAMESPACE)
    objects = render_manifests([jar, alpha, beta, other], options, env={}).objects
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "asker"
    )
    served = tmp_path / "pod" / "jar.yaml"
    served.parent.mkdir()
    served.write_text(config["data"]["jar.yaml"])
    manifest = load_manifest(served, env={})
    assert isinstance(manifest, JarManifest) and isinstance(manifest.spec.tools[0], DiscoverTools)
    settings = discover_settings(manifest.spec.tools[0].discover)
    assert settings.dns is not None
    assert settings.dns.names == (_name("alpha-svc"), _name("beta-svc"))

    async with tool_services(alpha, beta) as (a, b):
        records = srv(_name("alpha-svc"), f"10-0-0-1.alpha-svc.{SUFFIX}", a.grpc_port)
        records += srv(_name("beta-svc"), f"10-0-0-2.beta-svc.{SUFFIX}", b.grpc_port)
        # Cluster DNS lists other-svc too (its pod is not running: a row if it were read).
        records += srv(_name("other-svc"), f"10-0-0-3.other-svc.{SUFFIX}", _closed_port(tmp_path))
        async with dnsmasq(tmp_path, records) as server:
            # The pod asks the cluster's DNS; here, dnsmasq stands in for it.
            dns = dataclasses.replace(settings.dns, server=server.server)
            config_here = dataclasses.replace(settings, dns=dns)
            async with DiscoverSource(config_here, health_interval=0.3) as source:
                await eventually(lambda: {t.name for t in source.tools()} == {"alpha", "beta"})
                rows = source.registry.services()
                assert sorted((r.name, r.status) for r in rows) == [
                    ("alpha-svc", "ok"),
                    ("beta-svc", "ok"),
                ]


def test_wrong_dns_options_are_usage_mistakes_and_the_table_names_its_sources() -> None:
    from brainjar.registry import DiscoverSettings, Registry, policy_from_config
    from typer.testing import CliRunner

    from brainjar.cli import app
    from brainjar.cli._discover import _table

    cases = {
        ("--server", "127.0.0.1:53"): "add --dns NAME",
        ("--dns", "tools.agents.svc.cluster.local"): "is not an SRV name",
        ("--dns", _name("a"), "--server", "dns.example"): "is not an IP address",
    }
    for args, expected in cases.items():
        result = CliRunner().invoke(app, ["discover", "--json", *args])
        assert result.exit_code == 2, result.output
        assert expected in result.stderr
    config = DiscoverSettings(dns=DnsSettings(name=[_name("a")]), multicast=False)
    table = _table(Registry(policy_from_config(config)), config)
    assert table.title == f"brainjar tool services (DNS {_name('a')})"
