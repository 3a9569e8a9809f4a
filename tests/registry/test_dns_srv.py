"""Discovery by DNS SRV records, against a real DNS server (dnsmasq) on loopback.

Each test starts ``dnsmasq`` on a free port of 127.0.0.1 with the records it
writes, and real ``brainjar serve-tools`` processes for the records to point at
(``dns_support``).
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import anyio
import pytest
from brainjar.registry import DiscoverSettings, DiscoverSource, DnsSettings, Sighting
from brainjar.registry import _dns as dns_feed
from brainjar.registry._dns import DnsFeed
from brainjar.registry._dns_lookup import lookup
from dns_support import (
    ASK_LIMIT,
    DOMAIN,
    TOOLS,
    Dnsmasq,
    dnsmasq,
    new_uid,
    srv,
    tool_services,
    write_service,
)
from mesh_support import eventually

from brainjar._errors import DiscoveryError, ManifestError
from brainjar.jar._jar import Jar
from brainjar.testing import ScriptedModelServer, ScriptedRequest, Step, call, reply


def _names(source: DiscoverSource) -> set[str]:
    return {t.name for t in source.tools()}


def _source_of(source: DiscoverSource, tool: str) -> str:
    return next(t.source for t in source.tools() if t.name == tool)


def _discover(uid: str, server: Dnsmasq, name: str = TOOLS, **kwargs: object) -> DiscoverSource:
    dns_settings = DnsSettings(name=name, server=server.server)
    config = DiscoverSettings(selector={"mesh": uid}, dns=dns_settings, multicast=False, **kwargs)  # type: ignore[arg-type]
    return DiscoverSource(config, health_interval=0.3, health_failures=2)


def _jar_file(folder: Path, *, uid: str, model: str, server: Dnsmasq) -> Path:
    manifest = folder / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {{name: dns-jar}}
            spec:
              model: {{backend: openai, endpoint: "{model}", name: scripted}}
              loop: {{transcripts: false}}
              tools:
                - discover:
                    selector: {{mesh: {uid}}}
                    dns: {{name: {TOOLS}, server: "{server.server}"}}
            """
        )
    )
    return manifest


async def test_a_jar_uses_and_follows_the_services_srv_records_name(tmp_path: Path) -> None:
    uid = new_uid()
    a = write_service(tmp_path, "alpha-svc", ["alpha"], uid=uid)
    b = write_service(tmp_path, "beta-svc", ["beta"], uid=uid)
    target = f"alpha-0.tools.{DOMAIN}"
    plans = {
        "use both": [call("alpha", {"text": "one"}), call("beta", {"text": "two"}), reply("done")],
        "again": [call("alpha", {"text": "moved"}), reply("done again")],
    }

    def script(request: ScriptedRequest) -> Step:
        asked = next(m["content"] for m in request.messages if m["role"] == "user")
        return plans[asked][request.step]

    async with tool_services(a, b, a) as (old, beta, new):
        # alpha's target claims its name by TXT; beta's does not, so its own name stands.
        records = srv(TOOLS, target, old.grpc_port, claim="alpha-svc")
        records += srv(TOOLS, f"10-0-0-7.tools.{DOMAIN}", beta.grpc_port)
        async with dnsmasq(tmp_path, records) as server, ScriptedModelServer(script) as model:
            jar_file = _jar_file(tmp_path, uid=uid, model=model.openai_base_url, server=server)
            async with Jar.load(jar_file) as jar:

                def sources() -> dict[str, str]:
                    return {t.name: t.source for t in jar.tools()}

                await eventually(lambda: set(sources()) == {"alpha", "beta"})
                assert sources() == {
                    "alpha": f"grpc:alpha-svc@127.0.0.1:{old.grpc_port}",
                    "beta": f"grpc:beta-svc@127.0.0.1:{beta.grpc_port}",
                }
                with anyio.fail_after(ASK_LIMIT):
                    assert (await jar.ask("use both")).text == "done"
                shown = _tool_results(model)
                assert shown == ["alpha: one", "beta: two"]

                # alpha moves to the third process's port; beta's record is removed. The
                # first two processes keep running: only DNS tells the jar.
                await server.restart(srv(TOOLS, target, new.grpc_port, claim="alpha-svc"))
                moved = {"alpha": f"grpc:alpha-svc@127.0.0.1:{new.grpc_port}"}
                await eventually(lambda: sources() == moved)
                with anyio.fail_after(ASK_LIMIT):
                    assert (await jar.ask("again")).text == "done again"
                assert _tool_results(model) == ["alpha: moved"]
                assert old.process.returncode is None and beta.process.returncode is None


def _tool_results(model: ScriptedModelServer) -> list[str]:
    """What the tools answered in the model's last request."""
    return [m["content"] for m in model.requests[-1].body["messages"] if m["role"] == "tool"]


async def test_trust_rules_apply_to_srv_records(tmp_path: Path) -> None:
    uid = new_uid()
    locked = write_service(tmp_path, "locked-svc", ["alpha"], uid=uid, token=True)
    plain = write_service(tmp_path, "plain-svc", ["beta"], uid=uid)
    locked_name, liar_name = "_grpc._tcp.locked." + DOMAIN, "_grpc._tcp.liar." + DOMAIN
    async with tool_services(locked, plain, env={"DNS_TOKEN": "right"}) as (secured, other):
        records = srv(locked_name, f"locked-0.locked.{DOMAIN}", secured.grpc_port)
        # A record whose TXT claims another service's name for plain-svc.
        records += srv(liar_name, f"liar-0.liar.{DOMAIN}", other.grpc_port, claim="locked-svc")
        async with dnsmasq(tmp_path, records) as server:
            async with _discover(uid, server, locked_name, token="wrong") as wrong:
                await eventually(
                    lambda: [r.status for r in wrong.registry.services()] == ["refused"]
                )
                assert "token" in wrong.registry.services()[0].reason
                assert _names(wrong) == set()
            async with _discover(uid, server, liar_name) as liar:
                await eventually(
                    lambda: [r.status for r in liar.registry.services()] == ["refused"]
                )
                assert "spoofed" in liar.registry.services()[0].reason
                assert _names(liar) == set()
            async with _discover(uid, server, locked_name, token="right") as right:
                await eventually(lambda: _names(right) == {"alpha"})
                [row] = right.registry.services()
                assert row.trust == "proven"
                alpha = next(t for t in right.tools() if t.name == "alpha")
                assert (await alpha.call({"text": "proven"})).content == "alpha: proven"


async def test_a_lookup_reads_priority_mcp_ports_and_name_claims(tmp_path: Path) -> None:
    mcp_name = "_mcp._tcp.tools." + DOMAIN
    records = "".join(
        [
            f"srv-host={TOOLS},second.tools.{DOMAIN},7002,20,10\n",
            f"host-record=second.tools.{DOMAIN},127.0.0.2\n",
            srv(TOOLS, f"first.tools.{DOMAIN}", 7001, claim="first-svc"),
            f"srv-host={mcp_name},first.tools.{DOMAIN},8001,0,10\n",
            # An address-less target and an unusable name claim are left out.
            f"srv-host={TOOLS},nowhere.tools.{DOMAIN},7003,0,10\n",
            srv(TOOLS, f"bad.tools.{DOMAIN}", 7004, claim="x" * 64),
        ]
    )
    async with dnsmasq(tmp_path, records) as server:
        feed = DnsFeed(DnsSettings(name=TOOLS, server=server.server), transport="mcp")
        [(grpc_name, mcp)] = feed.names
        found, ttl = await lookup(feed.resolver, grpc_name, mcp)
        grpc_only = DnsFeed(DnsSettings(name=TOOLS, server=server.server))
        assert grpc_only.names == [(TOOLS + ".", None)]
        missing = DnsFeed(DnsSettings(name="_grpc._tcp.gone." + DOMAIN, server=server.server))
        nothing = await lookup(missing.resolver, missing.names[0][0], None)
    assert [(s.key, s.host, s.port, s.instance, s.mcp_port) for s in found] == [
        (f"dns:first.tools.{DOMAIN}:7001", "127.0.0.1", 7001, "first-svc", 8001),
        (f"dns:second.tools.{DOMAIN}:7002", "127.0.0.2", 7002, None, None),
    ]
    assert all(s.origin == "dns" for s in found)
    assert 1.0 <= ttl <= 300.0
    assert nothing[0] == []


async def test_a_failed_lookup_keeps_what_was_found_and_a_gone_record_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dns_feed, "RETRY", 0.2)  # ask again soon after a failure
    caplog.set_level(logging.WARNING, logger="brainjar.registry")
    first, second = f"first.tools.{DOMAIN}", f"second.tools.{DOMAIN}"
    seen: list[Sighting] = []
    gone: list[tuple[str, str]] = []

    def on_gone(key: str, *, why: str) -> None:
        gone.append((key, why))

    async with dnsmasq(tmp_path, srv(TOOLS, first, 7001)) as server:
        feed = DnsFeed(DnsSettings(name=TOOLS, server=server.server))
        async with anyio.create_task_group() as tg:
            await tg.start(feed.run, seen.append, on_gone)
            assert [s.key for s in seen] == [f"dns:{first}:7001"]
            feed.resolver.lifetime = feed.resolver.timeout = 0.5  # fail soon, once it is down
            await server.stop()
            await eventually(lambda: "cannot look up " + TOOLS in caplog.text)
            assert gone == []
            await server.start(srv(TOOLS, second, 7002))
            await eventually(lambda: bool(gone))
            assert gone == [(f"dns:{first}:7001", f"is no longer in the SRV records of {TOOLS}.")]
            assert [s.key for s in seen] == [f"dns:{first}:7001", f"dns:{second}:7002"]
            tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("name", "server", "expected"),
    [
        ("tools.default.svc.cluster.local", None, "not an SRV name"),
        ("_mcp._tcp.tools.default.svc.cluster.local", None, "names the MCP ports"),
        (TOOLS, "dns.example:53", "not an IP address"),
        (TOOLS, "127.0.0.1:99999", "is not host:port"),
    ],
)
def test_wrong_dns_settings_are_refused_before_anything_starts(
    name: str, server: str | None, expected: str
) -> None:
    with pytest.raises(DiscoveryError, match=expected):
        DnsFeed(DnsSettings(name=name, server=server))


def test_a_wrong_srv_name_in_a_manifest_names_its_line(tmp_path: Path) -> None:
    manifest = tmp_path / "jar.yaml"
    manifest.write_text(
        textwrap.dedent(
            """\
            apiVersion: brainjar.dev/v1
            kind: Jar
            metadata: {name: dns-jar}
            spec:
              model: {backend: openai, endpoint: "http://127.0.0.1:9/v1", name: scripted}
              tools:
                - discover:
                    dns: {name: tools.default.svc.cluster.local}
            """
        )
    )
    with pytest.raises(ManifestError, match=r"jar.yaml:8:.*_<port name>._tcp.<domain>"):
        Jar.load(manifest)


def test_an_entry_with_dns_browses_mdns_only_when_it_says_so() -> None:
    from brainjar.jar._sources import discover_settings
    from brainjar.manifest import DiscoverConfig

    dns_only = discover_settings(DiscoverConfig.model_validate({"dns": {"name": TOOLS}}))
    assert dns_only.dns == DnsSettings(name=TOOLS) and not dns_only.multicast
    both = DiscoverConfig.model_validate({"dns": {"name": TOOLS}, "multicast": True})
    assert discover_settings(both).multicast
    assert discover_settings(DiscoverConfig()).multicast
