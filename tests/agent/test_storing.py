"""Group commit: the windows of one moment in one transaction, each caller back only once its
windows are durable (read back through a second connection to the same file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.storing import WindowStore
from tests.agent.test_outbox import minute

pytestmark = pytest.mark.anyio

DEVICES = 20


async def test_windows_closed_together_are_committed_together_and_durable_on_return(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox, lock = Outbox(path), asyncio.Lock()
    woken: list[int] = []
    store = WindowStore(outbox, lock, on_stored=lambda: woken.append(1))
    reader = Outbox(path)  # another connection: sees only what is committed
    seen_on_return: dict[str, int] = {}

    async def device(index: int) -> None:
        await store.store([minute(f"press-{index:02d}", 0)])
        seen_on_return[f"press-{index:02d}"] = reader.stats().pending_windows

    async with lock:  # the publisher holds the outbox while the window edge's devices close
        tasks = [asyncio.create_task(device(index)) for index in range(DEVICES)]
        await asyncio.sleep(0.05)
        assert not seen_on_return  # nobody is told "stored" before the commit
    await asyncio.gather(*tasks)

    assert store.commits == 1  # one transaction, one fsync, for the 20 windows of the edge
    assert woken == [1]
    assert reader.stats().pending_windows == DEVICES
    assert seen_on_return == {f"press-{index:02d}": DEVICES for index in range(DEVICES)}
    reader.close()
    outbox.close()


async def test_windows_queued_during_a_commit_go_in_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox, lock = Outbox(path), asyncio.Lock()
    store = WindowStore(outbox, lock)
    first = asyncio.create_task(store.store([minute("press-01", 0)]))
    await asyncio.sleep(0)  # the first caller holds the lock and is committing
    later = [asyncio.create_task(store.store([minute(f"press-{i:02d}", 0)])) for i in (2, 3, 4)]
    await asyncio.gather(first, *later)
    assert store.commits == 2
    reader = Outbox(path)
    assert reader.stats().pending_windows == 4
    reader.close()
    outbox.close()
