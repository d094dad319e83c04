"""Windows/s through the outbox, signing and QoS 1 publishing, vs a raw paho publish loop.

Setup: a real mosquitto (``stack.MosquittoServer``) and a QoS 1 subscriber in its own process on
the collectors' shared subscription (without a subscriber mosquitto answers reason 16, "no
matching subscribers", which the agent rightly keeps as not delivered). Windows are realistic
one-minute KPI windows of 20 devices (about 600 bytes each as a record).

- ours, stream: windows enter ``agent.outbox.Outbox`` (SQLite WAL, synchronous=FULL) as the
  service stores them: at each window close, each of the 20 devices hands its window to
  ``agent.storing.WindowStore.store`` from its own task (as the device tasks do) and the next
  close follows when all 20 are stored, as fast as the outbox takes them; the store seals them
  in its transaction with ``agent.publish.Publisher``'s envelope maker when the publisher would
  seal next (seq, Ed25519 signature, batches of up to 500), as the service's store does, and the
  publisher publishes each batch and forgets it on its PUBACK. Timed from the first window in to
  the last PUBACK (and the day ledger's last fold). This is the headline figure. Printed beside
  it: the outbox transactions that stored the windows, the transactions that wrote an edge (each
  one fsync), and this process's CPU a window (the agent's side without mosquitto and the
  subscriber: steadier under load than the ratio).
- ours, drain: the backlog case (broker back after an outage): all windows already in the
  outbox, timed from the wake-up to the last PUBACK.
- limit: a raw paho-mqtt 2.x QoS 1 loop publishing one payload the size of a window record
  (~600 B) per window, waiting for every PUBACK, max_inflight 100 (how FIELD-NOTES measured
  paho's 18-22k messages/s): what a client that sends each window as a message can reach. The
  ratio line is ours (stream) / this (issue 5's figure was >= 0.5; issue 20 raised it to >= 0.7).
- limit_same_bytes: the raw loop publishing payloads of exactly the sizes our envelopes had, in
  the same order, with our max_inflight (8); its windows/s counts the records those payloads
  carried. It shows the cost of the agent's own work per window (reading back, validating,
  signing, encoding, fsync) against moving the same bytes.

``--ledger-ab BATCH``: the day ledger's own cost, in one process, no broker and no signing:
``Outbox.seal_batch`` over 10,000 stored windows of 20 devices in batches of BATCH, three ways
in turn, each round on a fresh file: ``off`` (the ledger does nothing), ``inline`` (each batch
folded into its parts in its own transaction, as the ledger did before the fold queue) and
``queue`` (each batch queued, the queue folded once a second and at the end, as the publisher
does; the folds are timed too). Prints the medians of process CPU and wall per window, and
``ratio`` = off / queue CPU.

``--edge-ab``: the stream phase end to end, a window edge's outbox work two ways in turn, each
round beside the raw paho limit (``--rounds``, default 3; ``--quick`` for 10,000 windows):
``three`` as before #20's edge change (the edge stored alone, sealed by the publisher in its own
transaction, each PUBACK's delete in a third) and ``one`` as the service does now (stored and
sealed in one transaction, the delete riding in the next). ``ratio`` is one's against the limit,
``three_ratio`` three's, under the same load; the fsyncs an edge are printed for both.

``--stream-ab``: the stream phase end to end, the ledger ``inline`` and ``queue`` in turn, each
round beside the raw paho limit (``--rounds``, default 3; ``--quick`` for 10,000 windows):
``ratio`` is queue's against the limit, ``inline_ratio`` inline's, under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from agent import day_ledger
from agent.config import BrokerConfig
from agent.outbox import Outbox, SealedBatch
from agent.publish import Identity, Publisher
from agent.storing import WindowStore
from contract import wire
from contract.clock import WallClock
from stack import MosquittoServer

DEVICES = 20
IDENTITY = Identity("plat-bench", "ent-bench", "gw-bench")
DIGEST = wire.config_digest(b"bench agent.yaml")
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


class _RecordingPublisher(Publisher):
    """The agent's publisher, noting each payload's size and records for the raw loop."""

    sent: list[tuple[int, int]]

    def _publish(self, batch: SealedBatch) -> None:
        if batch.kind == "windows":  # the day seals it also sends are not window batches
            self.sent.append((len(batch.envelope), batch.records))
        super()._publish(batch)


@dataclass
class Run:
    """One timed run: windows delivered and acknowledged, payloads sent, wall seconds."""

    windows: int
    payloads: list[tuple[int, int]]
    elapsed_s: float
    #: This process's CPU seconds over the run (0 when not measured).
    cpu_s: float = 0.0
    #: Outbox transactions that wrote, each one fsync (0 when not counted).
    write_commits: int = 0

    @property
    def windows_per_s(self) -> float:
        """Windows acknowledged per second."""
        return self.windows / self.elapsed_s

    def describe(self) -> str:
        """``12345 windows/s, 81 us/window, 40 batches of 500 records, 301234 B``."""
        sizes = [size for size, _ in self.payloads]
        records = [n for _, n in self.payloads]
        return (
            f"{self.windows_per_s:8.0f} windows/s ({1e6 / self.windows_per_s:5.0f} us/window), "
            f"{len(self.payloads)} batches, {statistics.mean(records):.0f} records and "
            f"{statistics.mean(sizes) / 1000:.0f} kB a batch, "
            f"{sum(sizes) / max(1, sum(records)):.0f} B/window on the wire"
            + (f", {self.cpu_s / self.windows * 1e6:.0f} us CPU a window" if self.cpu_s else "")
        )


def make_windows(count: int) -> list[wire.KpiWindow]:
    """``count`` one-minute windows, 20 devices in turn, with realistic base quantities."""
    windows = []
    for index in range(count):
        device, minute = index % DEVICES, index // DEVICES
        start = START + timedelta(minutes=minute)
        run_s = 40.0 + (index % 17)
        windows.append(
            wire.KpiWindow(
                device=f"press-{device + 1:02d}",
                start=start,
                end=start + timedelta(minutes=1),
                provenance="measured",
                config_digest=DIGEST,
                scheduled_s=60.0,
                planned_s=60.0,
                run_s=run_s,
                idle_s=60.0 - run_s - 2.5,
                down_s=2.5,
                off_s=0.0,
                planned_stop_s=0.0,
                total_count=12 + index % 5,
                good_count=11 + index % 5,
                reject_count=1,
                energy_kwh=0.25 + (index % 13) / 1000,
                ideal_cycle_s=3.5,
                quality=wire.DataQuality(
                    samples=60,
                    missed_polls=0,
                    bad_values=0,
                    comm_loss_s=0.0,
                    scheduled_comm_loss_s=0.0,
                    counter_resets=0,
                    meter_resets=0,
                    clock_jumps=0,
                ),
            )
        )
    return windows


async def _start_publisher(
    broker: MosquittoServer, outbox: Outbox, lock: asyncio.Lock, key: Ed25519PrivateKey
) -> tuple[_RecordingPublisher, asyncio.Task[None]]:
    """The agent's publisher, connected (raises TimeoutError if it cannot connect in 10 s)."""
    config = BrokerConfig.model_validate({"host": broker.host, "port": broker.port})
    publisher = _RecordingPublisher(
        config, IDENTITY, key, outbox, lock, clock=WallClock(), agent_version="bench",
        config_digest=DIGEST,
    )  # fmt: skip
    publisher.sent = []
    task = asyncio.create_task(publisher.run())
    await _until(lambda: publisher.state.connected, timeout_s=10)
    await asyncio.sleep(0.1)  # the birth status goes first; keep it out of the timing
    return publisher, task


async def _stop_publisher(publisher: Publisher, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await publisher.close()


async def _until(done: Callable[[], bool], timeout_s: float) -> None:
    """Poll ``done`` every 2 ms; raises TimeoutError after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        # The publisher exposes counters, not events: polling them keeps its code untouched.
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.002)


async def _wait_acked(publisher: Publisher, windows: int, timeout_s: float = 300) -> None:
    await _until(lambda: publisher.state.records_acked >= windows, timeout_s)


class _AckAlone(Outbox):
    """The outbox as before #20's edge change: each PUBACK's delete in a transaction of its own."""

    def ack(self, seq: int) -> None:
        super().ack(seq)
        with self._transaction():  # the bench's A/B only: it deletes what ack() deferred
            pass


async def ours_stream(
    broker: MosquittoServer, windows: list[wire.KpiWindow], path: Path, *, way: str = "one"
) -> tuple[Run, int]:
    """Each window close's 20 windows stored as the service's device tasks store them, while
    the publisher drains them; first in to last PUBACK. Also the store's transactions.

    ``way`` "one" as the service does (store and seal in one transaction); "three" as before.
    """
    outbox, lock = (Outbox if way == "one" else _AckAlone)(path), asyncio.Lock()
    publisher, task = await _start_publisher(broker, outbox, lock, Ed25519PrivateKey.generate())
    store = WindowStore(outbox, lock, on_stored=publisher.wake)
    if way == "one":  # as agent.service.AgentService builds its store
        store.seal_with, store.on_sealed = publisher.sealing, publisher.publish_sealed
    write_commits = _count_write_commits(outbox)
    started, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(windows), DEVICES):
        await asyncio.gather(
            *(asyncio.create_task(store.store([window]))
              for window in windows[first : first + DEVICES])
        )  # fmt: skip
    await _wait_acked(publisher, len(windows))
    # The day ledger's last fold too, which the publisher would make within a second: every
    # window sent is in its day part when the clock stops.
    await publisher.fold()
    elapsed_s, cpu = time.perf_counter() - started, time.process_time() - cpu
    await _stop_publisher(publisher, task)
    outbox.close()
    return Run(len(windows), publisher.sent, elapsed_s, cpu, write_commits[0]), store.commits


async def ours_drain(
    broker: MosquittoServer, windows: list[wire.KpiWindow], path: Path
) -> tuple[Run, float]:
    """A backlog already in the outbox, wake to last PUBACK; also the store rate (windows/s)."""
    outbox, lock = Outbox(path), asyncio.Lock()
    publisher, task = await _start_publisher(broker, outbox, lock, Ed25519PrivateKey.generate())
    async with lock:
        stored = time.perf_counter()
        await asyncio.to_thread(outbox.add_windows, windows)
        store_rate = len(windows) / (time.perf_counter() - stored)
    started = time.perf_counter()
    publisher.wake()
    await _wait_acked(publisher, len(windows))
    elapsed_s = time.perf_counter() - started
    await _stop_publisher(publisher, task)
    outbox.close()
    return Run(len(windows), publisher.sent, elapsed_s), store_rate


def raw_paho(broker: MosquittoServer, payloads: list[tuple[int, int]], max_inflight: int) -> Run:
    """Publish payloads of the given sizes at QoS 1 and wait for every PUBACK."""
    done = threading.Event()
    connected = threading.Event()
    acked = 0

    def on_publish(*_args: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == len(payloads):
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(max_inflight)
    client.on_publish = on_publish
    client.on_connect = lambda *_: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    if not connected.wait(10):
        raise RuntimeError("raw paho client could not connect")
    topic = wire.windows_topic(IDENTITY.platform, IDENTITY.enterprise, "gw-raw")
    bodies = [b"x" * size for size, _ in payloads]
    started = time.perf_counter()
    for body in bodies:
        client.publish(topic, body, qos=1)
    if not done.wait(300):
        raise RuntimeError(f"raw paho: only {acked} of {len(payloads)} PUBACKs")
    elapsed_s = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return Run(sum(n for _, n in payloads), payloads, elapsed_s)


async def _measure(broker: MosquittoServer, workdir: Path, count: int, rounds: int) -> None:
    windows = make_windows(count)
    record_bytes = statistics.mean(len(wire.canonical_bytes(w.model_dump(mode="json")))
                                   for w in windows[:100])  # fmt: skip
    print(f"{count} windows a run, {record_bytes:.0f} B per window record")
    per_window = [(round(record_bytes), 1)] * count
    figures: dict[str, list[float]] = {}

    def note(label: str, run: Run, extra: str = "") -> None:
        figures.setdefault(label, []).append(run.windows_per_s)
        print(f"  {label:24s}: {run.describe()}{extra}")

    for round_no in range(1, rounds + 1):
        print(f"round {round_no} (load {common.load_average()})")
        stream, commits = await ours_stream(broker, windows, workdir / f"stream-{round_no}.sqlite")
        note("ours stream", stream, f", {count / commits:.1f} windows a store transaction, "
             f"{stream.write_commits * DEVICES / count:.2f} fsyncs an edge")  # fmt: skip
        figures.setdefault("cpu", []).append(stream.cpu_s / count * 1e6)
        note("raw paho per window", await asyncio.to_thread(raw_paho, broker, per_window, 100))
        note("raw paho stream bytes", await asyncio.to_thread(raw_paho, broker, stream.payloads, 8))
        drain, store_rate = await ours_drain(broker, windows, workdir / f"drain-{round_no}.sqlite")
        figures.setdefault("store", []).append(store_rate)
        note("ours drain", drain, f" (stored in one transaction at {store_rate:.0f}/s)")
        note("raw paho drain bytes", await asyncio.to_thread(raw_paho, broker, drain.payloads, 8))
    median = {label: statistics.median(values) for label, values in figures.items()}
    ours, limit = median["ours stream"], median["raw paho per window"]
    print(
        common.result_line(
            "agent_outbox",
            ours / limit,
            f"{ours:.0f}windows/s",
            f"{limit:.0f}windows/s",
            ">=0.7",
            us_per_window=f"{1e6 / ours:.0f}",
            cpu_us_per_window=f"{median['cpu']:.0f}",
            drain=f"{median['ours drain']:.0f}windows/s",
            drain_ratio=f"{median['ours drain'] / limit:.2f}",
            limit_same_bytes=f"{median['raw paho stream bytes']:.0f}windows/s",
            drain_limit_same_bytes=f"{median['raw paho drain bytes']:.0f}windows/s",
            store=f"{median['store']:.0f}windows/s",
        )
    )


_QUEUE_BATCH = day_ledger.queue_batch


def _queue_and_fold(db: Any, seq: int, rows: Any) -> None:
    """The ledger before the fold queue: each batch folded in its own transaction."""
    _QUEUE_BATCH(db, seq, rows)
    day_ledger.fold_queued(db, day_ledger.DEFAULT_TIMEZONE, _INLINE_PARTS)


_INLINE_PARTS = day_ledger.PartCache()
_LEDGER_WAYS: dict[str, Callable[..., None]] = {
    "off": lambda *_args: None,
    "inline": _queue_and_fold,
    "queue": _QUEUE_BATCH,
}


def _ledger_run(
    way: str, windows: list[wire.KpiWindow], batch: int, path: Path
) -> tuple[float, float]:
    """(CPU µs, wall µs) a window to batch ``windows`` with the ledger ``way``."""
    day_ledger.queue_batch = _LEDGER_WAYS[way]  # the A/B's switch: what seal_batch calls
    _INLINE_PARTS.clear()
    outbox = Outbox(path)
    try:
        for first in range(0, len(windows), 1000):
            outbox.add_windows(windows[first : first + 1000])
        wall, cpu = time.perf_counter(), time.process_time()
        last_fold = wall
        while outbox.seal_batch(batch, lambda _seq, _records: b"x") is not None:
            if way == "queue" and time.perf_counter() - last_fold >= 1.0:
                outbox.fold_batches()
                last_fold = time.perf_counter()
        outbox.fold_batches()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        day_ledger.queue_batch = _QUEUE_BATCH
        outbox.close()
    return cpu / len(windows) * 1e6, wall / len(windows) * 1e6


def ledger_ab(batch: int, rounds: int) -> None:
    """Print the ledger's cost per window, off / inline / queue, and its result line."""
    windows = make_windows(10_000)
    runs: dict[str, list[tuple[float, float]]] = {way: [] for way in _LEDGER_WAYS}
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        for round_no in range(rounds):
            print(f"round {round_no + 1} (load {common.load_average()})")
            for way in _LEDGER_WAYS:
                runs[way].append(_ledger_run(way, windows, batch, Path(tmp) / f"{way}-{round_no}"))
                cpu_us, wall_us = runs[way][-1]
                print(f"  {way:7s}: {cpu_us:5.0f} us CPU, {wall_us:5.0f} us wall a window")
    cpu = {way: statistics.median(c for c, _ in values) for way, values in runs.items()}
    wall = {way: statistics.median(w for _, w in values) for way, values in runs.items()}
    print(
        common.result_line(
            "agent_outbox_ledger",
            cpu["off"] / cpu["queue"],
            f"{cpu['queue']:.0f}us/window",
            f"{cpu['off']:.0f}us/window",
            "-",
            batch=str(batch),
            queue_cost=f"+{cpu['queue'] - cpu['off']:.0f}us",
            inline_cost=f"+{cpu['inline'] - cpu['off']:.0f}us",
            queue_wall=f"+{wall['queue'] - wall['off']:.0f}us",
            inline_wall=f"+{wall['inline'] - wall['off']:.0f}us",
        )
    )


def _count_write_commits(outbox: Outbox) -> list[int]:
    """A one-item counter of the transactions on ``outbox`` that wrote (each one fsync under
    ``synchronous=FULL``), kept by SQLite's trace callback (private connection: bench only)."""
    counter, began = [0], [0]
    db = outbox._db

    def trace(statement: str) -> None:
        if statement == "BEGIN IMMEDIATE":
            began[0] = db.total_changes
        elif statement == "COMMIT" and db.total_changes != began[0]:
            counter[0] += 1

    db.set_trace_callback(trace)
    return counter


#: One side of an A/B stream: runs the stream phase in a file under ``workdir`` for ``round_no``.
StreamWay = Callable[[list[wire.KpiWindow], Path, int], Awaitable[tuple[Run, int]]]


async def _ab_rounds(
    broker: MosquittoServer, ways: dict[str, StreamWay], workdir: Path, count: int, rounds: int
) -> dict[str, float]:
    """Each round, every way's stream phase in turn, then the raw paho limit: the same load
    for all. The medians over the rounds of each way's windows/s (``way``), CPU per window
    (``way cpu``), fsyncs an edge (``way fsyncs``), and the limit's windows/s (``limit``)."""
    windows = make_windows(count)
    record_bytes = round(len(wire.canonical_bytes(windows[0].model_dump(mode="json"))))
    width = max(len(way) for way in ways)
    figures: dict[str, list[float]] = {}
    for round_no in range(1, rounds + 1):
        print(f"round {round_no} (load {common.load_average()})")
        for way, stream in ways.items():
            run, _ = await stream(windows, workdir, round_no)
            fsyncs = run.write_commits * DEVICES / count
            figures.setdefault(way, []).append(run.windows_per_s)
            figures.setdefault(f"{way} cpu", []).append(run.cpu_s / count * 1e6)
            figures.setdefault(f"{way} fsyncs", []).append(fsyncs)
            print(f"  ours stream, {way:{width}s}: {run.describe()}, {fsyncs:.2f} fsyncs an edge")
        limit = await asyncio.to_thread(raw_paho, broker, [(record_bytes, 1)] * count, 100)
        figures.setdefault("limit", []).append(limit.windows_per_s)
        print(f"  raw paho per window{' ' * (width - 1)}: {limit.describe()}")
    return {label: statistics.median(values) for label, values in figures.items()}


async def _edge_ab(broker: MosquittoServer, workdir: Path, count: int, rounds: int) -> None:
    """The stream phase with an edge's outbox work in three transactions (before) and in one
    (now), in turn, each round beside the raw paho limit."""

    def edge(way: str) -> StreamWay:
        async def stream(windows: list[wire.KpiWindow], folder: Path, n: int) -> tuple[Run, int]:
            return await ours_stream(broker, windows, folder / f"{way}-{n}", way=way)

        return stream

    median = await _ab_rounds(
        broker, {way: edge(way) for way in ("three", "one")}, workdir, count, rounds
    )
    print(
        common.result_line(
            "agent_outbox_edge_ab",
            median["one"] / median["limit"],
            f"{median['one']:.0f}windows/s",
            f"{median['limit']:.0f}windows/s",
            ">=0.7",
            three_ratio=f"{median['three'] / median['limit']:.2f}",
            three=f"{median['three']:.0f}windows/s",
            cpu_us_per_window=f"{median['one cpu']:.0f}",
            three_cpu_us_per_window=f"{median['three cpu']:.0f}",
            fsyncs_per_edge=f"{median['one fsyncs']:.2f}",
            three_fsyncs_per_edge=f"{median['three fsyncs']:.2f}",
        )
    )


async def _stream_ab(broker: MosquittoServer, workdir: Path, count: int, rounds: int) -> None:
    """The stream phase with the ledger folded inline (as before the queue) and queued, in
    turn, each round beside the raw paho limit."""

    def ledger(way: str) -> StreamWay:
        async def stream(windows: list[wire.KpiWindow], folder: Path, n: int) -> tuple[Run, int]:
            day_ledger.queue_batch = _LEDGER_WAYS[way]
            _INLINE_PARTS.clear()
            try:
                return await ours_stream(broker, windows, folder / f"{way}-{n}.sqlite")
            finally:
                day_ledger.queue_batch = _QUEUE_BATCH

        return stream

    median = await _ab_rounds(
        broker, {way: ledger(way) for way in ("inline", "queue")}, workdir, count, rounds
    )
    print(
        common.result_line(
            "agent_outbox_stream_ab",
            median["queue"] / median["limit"],
            f"{median['queue']:.0f}windows/s",
            f"{median['limit']:.0f}windows/s",
            ">=0.7",
            inline_ratio=f"{median['inline'] / median['limit']:.2f}",
            inline=f"{median['inline']:.0f}windows/s",
            cpu_us_per_window=f"{median['queue cpu']:.0f}",
            inline_cpu_us_per_window=f"{median['inline cpu']:.0f}",
        )
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    parser.add_argument("--ledger-ab", type=int, metavar="BATCH", help="the ledger's cost alone")
    parser.add_argument(
        "--stream-ab", action="store_true", help="the stream, ledger inline vs queued"
    )
    parser.add_argument(
        "--edge-ab", action="store_true", help="the stream, an edge in three transactions vs one"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the A/B runs")
    args = parser.parse_args()
    if args.ledger_ab:
        print(f"agent_outbox --ledger-ab: {common.machine_summary()}, load {common.load_average()}")
        ledger_ab(args.ledger_ab, args.rounds)
        return
    count, rounds = (10_000, 2) if args.quick else (40_000, 3)
    measure = _measure
    if args.stream_ab:
        measure, rounds = _stream_ab, args.rounds
    if args.edge_ab:
        measure, rounds = _edge_ab, args.rounds
    print(f"agent_outbox: {common.machine_summary()}, load {common.load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        workdir = Path(tmp)
        with MosquittoServer(workdir / "mqtt") as broker:
            subscriber = common.start_subscriber(
                broker.host, broker.port, wire.shared_filter("collectors", "windows"), workdir
            )
            try:
                asyncio.run(measure(broker, workdir, count, rounds))
            finally:
                received = common.subscriber_count(subscriber)
                print(f"subscriber received {received} messages")


if __name__ == "__main__":
    main()
