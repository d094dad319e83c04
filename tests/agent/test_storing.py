"""Group commit: the windows of one moment in one transaction, each caller back only once its
windows are durable (read back through a second connection to the same file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.outbox import Outbox, SealedBatch
from agent.storing import WindowStore
from contract import wire
from tests.agent.test_outbox import minute, sealer

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


async def test_an_edge_stored_and_sealed_in_one_transaction_is_durable_before_it_is_published(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox, lock = Outbox(path), asyncio.Lock()
    reader = Outbox(path)  # another connection: sees only what is committed
    published: list[tuple[SealedBatch, list[int]]] = []
    store = WindowStore(
        outbox,
        lock,
        seal_with=lambda: (500, sealer),
        on_sealed=lambda batch: published.append((batch, [b.seq for b in reader.unacked()])),
    )
    async with lock:  # the devices of one edge queue behind the holder
        tasks = [
            asyncio.create_task(store.store([minute(f"press-{index:02d}", 0)]))
            for index in range(DEVICES)
        ]
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)

    assert store.commits == 1  # one transaction stored and sealed the edge
    [(batch, durable_when_published)] = published
    assert durable_when_published == [batch.seq]
    assert len(wire.decode_envelope(batch.envelope).records) == DEVICES
    assert reader.stats().pending_windows == 0
    reader.close()
    outbox.close()


async def test_windows_are_stored_alone_when_their_seal_fails(tmp_path: Path) -> None:
    def broken(seq: int, records: list[bytes]) -> bytes:
        raise RuntimeError("signing failed")

    outbox, lock = Outbox(tmp_path / "outbox.sqlite"), asyncio.Lock()
    published: list[SealedBatch] = []
    store = WindowStore(outbox, lock, seal_with=lambda: (500, broken), on_sealed=published.append)
    await store.store([minute("press-01", 0)])
    assert published == [] and store.unsaved == []
    assert outbox.stats().pending_windows == 1  # stored: the publisher seals it later
    outbox.close()
