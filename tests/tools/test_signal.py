"""ChangeSignal and wait_any_changed: waiting for a tool list to change, without polling."""

from __future__ import annotations

import anyio

from brainjar.tools import ChangeSignal, StaticSource, wait_any_changed

# How long a test waits for a waiter it woke.
LIMIT = 10.0


async def test_a_signal_counts_up_and_returns_at_once_for_an_old_version() -> None:
    signal = ChangeSignal()
    assert signal.version == 0
    signal.bump()  # with nobody waiting yet
    signal.bump()
    assert signal.version == 2
    with anyio.fail_after(LIMIT):
        assert await signal.wait(0) == 2


async def test_one_bump_wakes_every_waiter() -> None:
    signal = ChangeSignal()
    woken: list[int] = []

    async def waiter() -> None:
        woken.append(await signal.wait(0))

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert woken == []  # nothing changed yet: all three wait
            signal.bump()
    assert woken == [1, 1, 1]


async def test_a_waiter_woken_late_sees_the_latest_version() -> None:
    signal = ChangeSignal()
    seen: list[int] = []

    async def waiter() -> None:
        seen.append(await signal.wait(0))

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            signal.bump()
            signal.bump()
    assert seen == [2]


async def test_wait_any_changed_returns_at_once_when_the_sum_moved() -> None:
    a, b, own = StaticSource([]), StaticSource([]), ChangeSignal()
    b.set([])
    with anyio.fail_after(LIMIT):
        assert await wait_any_changed([a, b], 0, own=own) == 1


async def test_wait_any_changed_wakes_for_an_inner_source_or_its_own_signal() -> None:
    a, b, own = StaticSource([]), StaticSource([]), ChangeSignal()
    results: list[int] = []

    async def watch(seen: int) -> None:
        results.append(await wait_any_changed([a, b], seen, own=own))

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, 0)
            await anyio.wait_all_tasks_blocked()
            assert results == []
            b.set([])  # the second source changed
        assert results == [1]
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, 1)
            await anyio.wait_all_tasks_blocked()
            assert results == [1]
            own.bump()  # the combined source itself changed
    assert results == [1, 2]
