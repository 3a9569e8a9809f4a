"""Two tool services that want one name on loopback: the second is renamed.

Real ``serve-tools`` processes, mDNS on 127.0.0.1. On loopback the announcer asks
for its name instead of relying on zeroconf's probing, which never notices a
name another process already announced.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from mesh_support import tool_service, write_service


async def test_a_name_taken_on_loopback_is_not_announced_twice(tmp_path: Path) -> None:
    uid = "a" + uuid.uuid4().hex[:8]
    name, labels = f"twin-{uid}", {"mesh": uid}
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    async with tool_service(write_service(first_dir, name, labels=labels)) as first:
        async with tool_service(write_service(second_dir, name, labels=labels)) as second:
            announced = (first.event("announced"), second.event("announced"))
    assert [event["name"] if event else None for event in announced] == [name, f"{name}-2"]
