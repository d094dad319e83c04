"""Records/s from MQTT to queryable in InfluxDB through ``retrofit-collector ingest`` vs /write.

Setup: a real mosquitto and influxd (``stack``), a registry with the example plan and the bench
agents, and ``retrofit-collector ingest`` as child processes with the shipped defaults (no
``ingest:`` section in their config). Envelopes are what an agent sends at a window close for
20 devices: 20 one-minute windows (~12 kB), signed with the agent's registered key.

Phases, interleaved in every round (medians over the rounds are the figures):

- ours_1: one replica. Every envelope published at QoS 1 over one connection (``rawmqtt``,
  the broker's receive maximum in flight: the agents' own CPU is not the collector's); timed
  from the first publish until the replicas' ``rv_ingest_written_records_total`` (their
  /metrics, read every 20 ms) shows every record written (InfluxDB answered 204: queryable,
  the limit's own definition), then one ``count()`` checks InfluxDB holds them all: the whole
  path, broker → size, decoding, identity, signature → seq record → /write → day marks → ack,
  with the rollup refresher running.
- ours_1_poll: the same, timed as before #20's B.1 until a poll of InfluxDB shows every record
  (every 50 ms, reading only what is not yet complete). Those reads cost influxd CPU charged to
  ours alone; beside ours_1 in the same round, the difference is the bench's own cost.
- ours_1_thread (``--thread-ab``): ours_1 again, its replica restarted with
  ``ingest: {mqtt_thread: true}``: paho's network loop in its own thread handing messages to
  the event loop, the read path before #20's B.3, against paho driven by the event loop
  (collector/ingest/mqtt_loop.py) in ours_1 of the same round. The replica is restarted before
  ours_1 too, so both paths are measured on a replica just started, and with the shipped path
  after ours_1_thread.
- limit (the ratio's denominator): the same records as line protocol
  (``collector.store.window_line``), POSTed to /write of the same influxd in 5,000-line
  batches over one HTTP connection, timed until the last 204 (a 204 is queryable).
- ours_N (``--replicas N``, default 2 as ``deploy/central`` runs them; none with 1): the same
  as ours_1 with N replicas in one share group, the way the collector scales out
  (docs/scaling.md). The extra replicas are started for the phase and retired after it
  (``ingest --retire``), so ours_1 always runs alone.
- latency: envelopes published at half of the headline figure (ours_N, else ours_1), one every
  1/rate s; for each, the time from its publish to the first poll that shows all its records.
  p50 and p99; goal p99 <= 1 s.

The ratio is ours_N / limit with ``--replicas N`` (and ours_1 / limit is printed beside it as
``ratio_1``), else ours_1 / limit. Each phase also reports the CPU of every process in it, in %
of one core: the ingest replicas, influxd, mosquitto, this script (publisher and poller) and
everything else on the machine (other people's tests), so where the two cores went is on record.
``rss_mb`` is the first replica's VmRSS at the end; ``cpu_pct`` its median CPU in ours_1.
Each ours phase also prints the replicas' registry calls per record: CPU in their thread and
wall time (CPU plus fsync and lock waits), from their /metrics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
import httpx
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rawmqtt import RawPublisher

from collector.plan import load_plan
from collector.registry import Registry
from collector.store import window_line, window_records
from contract import wire
from stack import LOOPBACK_HOST, InfluxServer, MosquittoServer, free_port

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
PLATFORM = "plat-a"
DEVICES = 20
T0 = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = wire.config_digest(b"bench agent.yaml")
LINES_PER_WRITE = 5000
POLL_S = 0.05
#: Envelopes past the oldest incomplete one that a poll looks at (replicas store a few
#: batches out of order, far fewer than this).
POLL_AHEAD = 256
#: How often a throughput phase reads the replicas' written-records counters.
METRICS_POLL_S = 0.02
COLLECTOR = Path(sys.executable).with_name("retrofit-collector")
WRITTEN = "rv_ingest_written_records_total"


@dataclass
class BenchAgent:
    """A registered agent that seals envelopes of DEVICES windows, seq after seq."""

    agent: str
    enterprise: str
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seq: int = 0

    @property
    def topic(self) -> str:
        """Its windows topic."""
        return wire.windows_topic(PLATFORM, self.enterprise, self.agent)

    def next_envelope(self) -> wire.Envelope:
        """The next seq's envelope: one window per device, all ending at :func:`window_end`."""
        self.seq += 1
        start = window_end(self.seq) - timedelta(minutes=1)
        records = [minute_window(f"dev-{n:02d}", start) for n in range(DEVICES)]
        return wire.seal_envelope(
            platform=PLATFORM, enterprise=self.enterprise, agent=self.agent, seq=self.seq,
            sent=start + timedelta(seconds=61), records=records, key=self.key,
        )  # fmt: skip


def window_end(seq: int) -> datetime:
    """When the windows of an envelope with ``seq`` end (its records' InfluxDB timestamp)."""
    return T0 + timedelta(minutes=seq + 1)


def minute_window(device: str, start: datetime, digest: str = DIGEST) -> wire.KpiWindow:
    """The benches' one-minute window from ``start`` (the fleet and rollup benches use it too)."""
    quality = wire.DataQuality(
        samples=60, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
        counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    return wire.KpiWindow(
        device=device, start=start, end=start + timedelta(minutes=1), provenance="measured",
        config_digest=digest, scheduled_s=60.0, planned_s=60.0, run_s=48.5, idle_s=9.0,
        down_s=2.5, off_s=0.0, planned_stop_s=0.0, total_count=13, good_count=12,
        reject_count=1, energy_kwh=0.731, ideal_cycle_s=3.5, quality=quality,
    )  # fmt: skip


# --- the servers and the ingest processes ---------------------------------------------------


def setup_registry(path: Path, agents: list[BenchAgent]) -> None:
    """The example plan and the bench agents, registered."""
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="bench")
        for agent in agents:
            registry.add_agent(
                agent.agent, platform=PLATFORM, enterprise=agent.enterprise,
                public_key=wire.public_key_text(agent.key.public_key()),
                devices=[f"dev-{n:02d}" for n in range(DEVICES)], by="bench",
            )  # fmt: skip


class Replicas:
    """``retrofit-collector ingest`` processes with the shipped defaults, one share group."""

    def __init__(self, workdir: Path, broker: MosquittoServer, influxd: InfluxServer) -> None:
        self.workdir = workdir
        self.document = {
            "registry": str(workdir / "registry.sqlite"),
            "broker": {"host": broker.host, "port": broker.port},
            "influx": {"url": influxd.url, "database": "rv"},
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        #: Each running replica's /metrics address (its config's only ``ingest:`` setting).
        self.metrics_urls: dict[str, str] = {}
        #: ``ingest:`` settings by client id, besides its metrics port.
        self.tuning: dict[str, dict[str, object]] = {}
        self._http = httpx.Client(timeout=10)

    def counters(self) -> dict[str, float]:
        """The running replicas' counters summed, by metric name (``rv_ingest_...``)."""
        sums: dict[str, float] = {}
        for url in self.metrics_urls.values():
            for line in self._http.get(url).text.splitlines():
                if line.startswith("rv_ingest_") and " " in line and "{" not in line:
                    name, value = line.split(" ", 1)
                    sums[name] = sums.get(name, 0.0) + float(value)
        return sums

    def _config(self, client_id: str) -> Path:
        path = self.workdir / f"collector-{client_id}.yaml"
        if client_id not in self.metrics_urls:
            self.metrics_urls[client_id] = f"http://{LOOPBACK_HOST}:{free_port()}/metrics"
        port = int(self.metrics_urls[client_id].rsplit(":", 1)[1].split("/", 1)[0])
        tuning = self.tuning.get(client_id, {}) | {"metrics_port": port}
        path.write_text(yaml.safe_dump(self.document | {"ingest": tuning}))
        return path

    def restart(self, client_id: str, **tuning: object) -> None:
        """Stop a replica (its session stays) and start it again with these settings."""
        common.stop_process(self.running.pop(client_id))
        self.tuning[client_id] = tuning
        self.start([client_id])

    def pids(self) -> list[int]:
        """Process ids of the running replicas."""
        return [process.pid for process in self.running.values()]

    def start(self, client_ids: list[str]) -> None:
        """Start a replica per client id; returns once each is connected."""
        logs, offsets = {}, {}
        for client_id in client_ids:
            logs[client_id] = self.workdir / f"ingest-{client_id}.log"
            offsets[client_id] = logs[client_id].stat().st_size if logs[client_id].exists() else 0
            self.running[client_id] = subprocess.Popen(
                self._argv(client_id), stdout=subprocess.DEVNULL, stderr=logs[client_id].open("ab")
            )
        deadline = time.monotonic() + 30
        for client_id, log_path in logs.items():  # this start's own line, not an earlier one's
            while b"connected to" not in log_path.read_bytes()[offsets[client_id] :]:
                if self.running[client_id].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ingest {client_id} did not start; see {log_path}")
                time.sleep(0.05)
        time.sleep(0.2)  # their SUBSCRIBEs are on the wire

    def retire(self, client_ids: list[str]) -> None:
        """Stop these replicas and end their sessions (``ingest --retire``), so that mosquitto
        routes no share of later windows to them (docs/scaling.md)."""
        for client_id in client_ids:
            common.stop_process(self.running.pop(client_id))
            self.metrics_urls.pop(client_id)
        retiring = [
            subprocess.Popen(
                [*self._argv(client_id), "--retire"],
                stdout=subprocess.DEVNULL,
                stderr=(self.workdir / f"ingest-{client_id}.log").open("ab"),
            )
            for client_id in client_ids
        ]
        for process in retiring:
            if process.wait(120) != 0:
                raise RuntimeError(f"ingest --retire failed; see {self.workdir}")

    def _argv(self, client_id: str) -> list[str]:
        config = self._config(client_id)
        return [str(COLLECTOR), "ingest", "--config", str(config), "--client-id", client_id]

    def stop_all(self) -> None:
        """SIGTERM every replica still running."""
        for process in self.running.values():
            common.stop_process(process)
        self.running.clear()
        self._http.close()


# --- measuring ------------------------------------------------------------------------------


@dataclass
class PhaseCpu:
    """CPU over one phase, in % of one core, by process and for the whole machine."""

    by_process: dict[str, float]
    machine_pct: float

    def text(self) -> str:
        """``ingest 97%, influxd 41%, ... others 12% (machine 180% of 200%)``."""
        others = max(0.0, self.machine_pct - sum(self.by_process.values()))
        parts = [f"{name} {pct:.0f}%" for name, pct in self.by_process.items()]
        cores = os.cpu_count() or 1
        return (
            ", ".join([*parts, f"others {others:.0f}%"])
            + f" (machine {self.machine_pct:.0f}% of {100 * cores}%)"
        )


class CpuMeter:
    """Per-process and machine CPU over a phase; ``processes`` maps a name to its pids."""

    def __init__(self, processes: dict[str, Callable[[], list[int]]]) -> None:
        self.processes = processes
        self._start: tuple[float, float, dict[str, float]] | None = None

    def _seconds(self) -> dict[str, float]:
        return {
            name: sum(common.cpu_seconds(pid) for pid in pids())
            for name, pids in self.processes.items()
        }

    def begin(self) -> None:
        """Mark the start of a phase."""
        self._start = (time.perf_counter(), common.machine_busy_seconds(), self._seconds())

    def end(self) -> PhaseCpu:
        """CPU since :meth:`begin` (the same processes must still be running)."""
        assert self._start is not None
        wall0, busy0, seconds0 = self._start
        wall = time.perf_counter() - wall0
        seconds = self._seconds()
        return PhaseCpu(
            {name: 100 * (seconds[name] - seconds0[name]) / wall for name in seconds},
            100 * (common.machine_busy_seconds() - busy0) / wall,
        )


class Counter:
    """Stored windows of one agent in InfluxDB, over one kept-alive connection."""

    def __init__(self, influxd: InfluxServer) -> None:
        self._http = httpx.Client(base_url=influxd.url, timeout=10)

    def _series(self, query: str) -> list[list[int]]:
        answer = self._http.post("/query", data={"db": "rv", "q": query, "epoch": "ms"}).json()
        series = answer["results"][0].get("series")
        return series[0]["values"] if series else []

    def windows(self, agent: str) -> int:
        """``count(seq)`` of ``agent``'s windows."""
        # S608: InfluxQL of literals and the bench's own agent ids, no outside input.
        query = f'SELECT count("seq") FROM "rv"."raw"."kpi_window" WHERE "agent" = \'{agent}\''  # noqa: S608
        values = self._series(query)
        return int(values[0][1]) if values else 0

    def per_minute(self, agent: str, first: datetime, last: datetime) -> dict[int, int]:
        """Stored windows of ``agent`` ending in each minute ``first..last``: {ms: count}."""
        query = (
            f'SELECT count("seq") FROM "rv"."raw"."kpi_window" WHERE "agent" = \'{agent}\' '  # noqa: S608
            f"AND time >= '{first.isoformat()}' AND time <= '{last.isoformat()}' "
            "GROUP BY time(1m) fill(none)"
        )
        return {int(ms): int(count) for ms, count in self._series(query)}

    def stored_at(self, agent: str, seqs: list[int], timeout_s: float = 600) -> list[float]:
        """Poll every POLL_S until every envelope in ``seqs`` has all its windows stored; the
        time of the first poll that showed each complete, in the order of ``seqs``.

        Each envelope's windows end in their own minute, so a ``GROUP BY time(1m)`` poll tells
        which envelopes are complete whatever order replicas store them in. A poll reads only
        POLL_AHEAD envelopes from the oldest incomplete one: counting every point each time cost
        influxd more CPU than writing them (~50 us a record at 20 polls/s), charged to ours
        alone. An envelope stored beyond that reach is seen late: latency errs high, not low.
        """
        ends = {int(window_end(seq).timestamp() * 1000): index for index, seq in enumerate(seqs)}
        done: list[float | None] = [None] * len(seqs)
        oldest, deadline = 0, time.monotonic() + timeout_s
        while oldest < len(seqs):
            if time.monotonic() > deadline:
                raise RuntimeError(f"envelope seq {seqs[oldest]} of {agent} never stored in full")
            newest = seqs[min(len(seqs), oldest + POLL_AHEAD) - 1]
            counts = self.per_minute(agent, window_end(seqs[oldest]), window_end(newest))
            now = time.perf_counter()
            for end_ms, count in counts.items():
                index = ends.get(end_ms)
                if index is not None and count == DEVICES and done[index] is None:
                    done[index] = now
            while oldest < len(seqs) and done[oldest] is not None:
                oldest += 1
            if oldest < len(seqs):
                time.sleep(POLL_S)
        stored, expected = self.windows(agent), len(seqs) * DEVICES
        if stored != expected:  # nothing else stored under this agent either
            raise RuntimeError(f"{agent}: {stored} windows stored, expected {expected}")
        return [moment for moment in done if moment is not None]


class Publisher:
    """QoS 1 publishes on one connection (``rawmqtt``); ``sent_at`` keeps each publish time."""

    def __init__(self, broker: MosquittoServer) -> None:
        self._raw = RawPublisher(broker.host, broker.port, "bench-agents")
        self.sent_at: list[float] = []

    def send(self, topic: str, payload: bytes) -> None:
        """Send one QoS 1 publish and note when."""
        self.sent_at.append(time.perf_counter())
        self._raw.publish(topic, payload)

    def close(self) -> None:
        """Wait for the outstanding PUBACKs and disconnect."""
        self._raw.close()


# --- phases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One phase's envelopes, their bytes encoded before the phase starts."""

    agent: BenchAgent
    seqs: list[int]
    payloads: list[bytes]

    @classmethod
    def of(cls, agent: BenchAgent, envelopes: list[wire.Envelope]) -> Batch:
        """The envelopes of ``agent``, encoded."""
        return cls(agent, [e.seq for e in envelopes], [wire.encode(e) for e in envelopes])


def ours(publisher: Publisher, counter: Counter, batch: Batch) -> float:
    """Records/s from the first publish to the last record queryable, seen by polling InfluxDB."""
    started = time.perf_counter()
    for payload in batch.payloads:
        publisher.send(batch.agent.topic, payload)
    done = counter.stored_at(batch.agent.agent, batch.seqs)
    return len(batch.payloads) * DEVICES / (max(done) - started)


def ours_written(
    publisher: Publisher, counter: Counter, replicas: Replicas, batch: Batch, timeout_s: float = 600
) -> float:
    """Records/s from the first publish until the replicas report every record written (each
    /write answered 204), checked by one count of what InfluxDB holds."""
    records = len(batch.payloads) * DEVICES
    target = replicas.counters().get(WRITTEN, 0.0) + records
    started = time.perf_counter()
    for payload in batch.payloads:
        publisher.send(batch.agent.topic, payload)
    deadline = time.monotonic() + timeout_s
    while replicas.counters().get(WRITTEN, 0.0) < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{batch.agent.agent}: not every record written in {timeout_s} s")
        time.sleep(METRICS_POLL_S)
    done = time.perf_counter()
    stored = counter.windows(batch.agent.agent)
    if stored != records:  # written more than once (a duplicate) would count twice above
        raise RuntimeError(f"{batch.agent.agent}: {stored} windows stored, expected {records}")
    return records / (done - started)


def limit(http: httpx.Client, lines: list[str]) -> float:
    """Records/s of raw line-protocol writes of ``lines`` to the ``rawbench`` database."""
    started = time.perf_counter()
    for first in range(0, len(lines), LINES_PER_WRITE):
        body = "\n".join(lines[first : first + LINES_PER_WRITE]).encode()
        answer = http.post("/write", params={"db": "rawbench", "precision": "ms"}, content=body)
        if answer.status_code != 204:
            raise RuntimeError(f"raw write: HTTP {answer.status_code} {answer.text[:200]}")
    return len(lines) / (time.perf_counter() - started)


def latency(
    publisher: Publisher, counter: Counter, agent: BenchAgent, rate: float, duration_s: float
) -> list[float]:
    """Seconds from publish to queryable of each envelope, published at ``rate`` records/s."""
    interval_s = DEVICES / rate
    count = max(10, int(duration_s / interval_s))
    envelopes = [agent.next_envelope() for _ in range(count)]
    payloads = [wire.encode(envelope) for envelope in envelopes]
    first_sent = len(publisher.sent_at)

    def send_paced() -> None:
        tick = time.perf_counter()
        for payload in payloads:
            publisher.send(agent.topic, payload)
            tick += interval_s
            time.sleep(max(0.0, tick - time.perf_counter()))

    sender = threading.Thread(target=send_paced)
    sender.start()
    stored_at = counter.stored_at(agent.agent, [envelope.seq for envelope in envelopes])
    sender.join()
    sent_at = publisher.sent_at[first_sent:]
    return [stored - sent for stored, sent in zip(stored_at, sent_at, strict=True)]


# --- the run --------------------------------------------------------------------------------


@dataclass
class Rounds:
    """Each phase's records/s and CPU, round after round."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[PhaseCpu]] = field(default_factory=dict)

    def add(self, phase: str, rate: float, cpu: PhaseCpu) -> None:
        """Keep one phase's figures."""
        self.rates.setdefault(phase, []).append(rate)
        self.cpu.setdefault(phase, []).append(cpu)

    def median(self, phase: str) -> float:
        """The phase's median records/s."""
        return statistics.median(self.rates[phase])


@dataclass
class Bench:
    """The servers, the replicas, and what each phase needs."""

    replicas: Replicas
    publisher: Publisher
    counter: Counter
    raw_http: httpx.Client
    meter: CpuMeter
    rounds: Rounds = field(default_factory=Rounds)

    def measure(self, phase: str, run: Callable[[], float]) -> None:
        """Run one phase under the CPU meter, keep and print its figures."""
        counters = self.replicas.counters()
        self.meter.begin()
        rate = run()
        cpu = self.meter.end()
        self.rounds.add(phase, rate, cpu)
        # CPU time per record, unlike % of a core, does not depend on how much CPU others left.
        per_record = "".join(
            f", {name} {10_000 * cpu.by_process[name] / rate:.0f}"
            for name in ("ingest", "influxd")
            if cpu.by_process[name] >= 1
        )
        print(
            f"    {phase:11s} {rate:8.0f} records/s   cpu: {cpu.text()}; us/record{per_record}"
            + (self._registry_text(counters) if phase.startswith("ours") else ""),
            flush=True,
        )

    def _registry_text(self, before: dict[str, float]) -> str:
        after = self.replicas.counters()
        records = after.get(WRITTEN, 0.0) - before.get(WRITTEN, 0.0)
        if records <= 0:
            return ""
        cpu, wall = (
            1e6 * (after.get(name, 0.0) - before.get(name, 0.0)) / records
            for name in (
                "rv_ingest_registry_cpu_seconds_total",
                "rv_ingest_registry_wall_seconds_total",
            )
        )
        return f"; registry us/record cpu {cpu:.1f}, wall {wall:.1f}"


def run_round(
    bench: Bench, agents: list[BenchAgent], records: int, extra: list[str], thread_ab: bool
) -> None:
    """ours_1, ours_1_poll, limit and (with extra replicas) ours_N on fresh records of their
    own agents."""
    envelopes_per_phase = records // DEVICES
    single, polling, multi, thread = agents
    group = bench.replicas
    envelopes = [single.next_envelope() for _ in range(envelopes_per_phase)]
    lines = [window_line(r) for e in envelopes for r in window_records(e)]
    batch = Batch.of(single, envelopes)
    polled = Batch.of(polling, [polling.next_envelope() for _ in range(envelopes_per_phase)])
    if thread_ab:  # both paths measured on a replica just started, as alike as they can be
        group.restart("bench-1")
    bench.measure("ours_1", lambda: ours_written(bench.publisher, bench.counter, group, batch))
    bench.measure("ours_1_poll", lambda: ours(bench.publisher, bench.counter, polled))
    if thread_ab:
        threaded = Batch.of(thread, [thread.next_envelope() for _ in range(envelopes_per_phase)])
        group.restart("bench-1", mqtt_thread=True)
        bench.measure(
            "ours_1_thread", lambda: ours_written(bench.publisher, bench.counter, group, threaded)
        )
        group.restart("bench-1")
    bench.measure("limit", lambda: limit(bench.raw_http, lines))
    if not extra:
        return
    more = Batch.of(multi, [multi.next_envelope() for _ in range(envelopes_per_phase)])
    bench.replicas.start(extra)
    bench.measure(
        f"ours_{len(extra) + 1}", lambda: ours_written(bench.publisher, bench.counter, group, more)
    )
    bench.replicas.retire(extra)


def warm_up(bench: Bench, agent: BenchAgent) -> None:
    """The first batches of ingest (imports, connections, caches) and the raw database's shard."""
    envelopes = [agent.next_envelope() for _ in range(3)]
    for envelope in envelopes:
        bench.publisher.send(agent.topic, wire.encode(envelope))
    bench.counter.stored_at(agent.agent, [envelope.seq for envelope in envelopes], timeout_s=30)
    lines = [window_line(r) for r in window_records(agent.next_envelope())]
    limit(bench.raw_http, lines)


def run(
    workdir: Path, records: int, rounds: int, latency_s: float, replicas: int, thread_ab: bool
) -> None:
    """Start everything, measure, print the figures and the result line."""
    agents = [BenchAgent(f"gw-bench-{n}", f"ent-{n % 10 + 1:02d}") for n in range(4 * rounds + 2)]
    setup_registry(workdir / "registry.sqlite", agents)
    with (
        MosquittoServer(workdir / "mqtt", autosave_interval_s=0) as broker,
        InfluxServer(workdir / "influx") as influxd,
    ):
        group = Replicas(workdir, broker, influxd)
        group.start(["bench-1"])
        influxd.create_database("rawbench")
        meter = CpuMeter({
            "ingest": group.pids,
            "influxd": lambda: [influxd.pid or 0],
            "mosquitto": lambda: [broker.pid or 0],
            "bench": lambda: [os.getpid()],
        })  # fmt: skip
        bench = Bench(group, Publisher(broker), Counter(influxd), httpx.Client(
            base_url=influxd.url, timeout=60), meter)  # fmt: skip
        try:
            warm_up(bench, agents[-1])
            for round_no in range(rounds):
                print(f"  round {round_no + 1} (load average {common.load_average()})", flush=True)
                extra = [f"bench-r{round_no + 1}-{n}" for n in range(2, replicas + 1)]
                run_round(bench, agents[4 * round_no : 4 * round_no + 4], records, extra, thread_ab)
            report(bench, agents[-2], latency_s, replicas, thread_ab)
        finally:
            bench.publisher.close()
            group.stop_all()


def report(
    bench: Bench, agent: BenchAgent, latency_s: float, replicas: int, thread_ab: bool
) -> None:
    """The latency phase at half the headline rate, then the result line."""
    rounds = bench.rounds
    single, raw = rounds.median("ours_1"), rounds.median("limit")
    headline = f"ours_{replicas}"
    mine = rounds.median(headline)
    extra = [f"bench-latency-{n}" for n in range(2, replicas + 1)]
    if extra:
        bench.replicas.start(extra)
    bench.meter.begin()
    delays = sorted(latency(bench.publisher, bench.counter, agent, mine / 2, latency_s))
    cpu = bench.meter.end()
    p50, p99 = delays[len(delays) // 2], delays[min(len(delays) - 1, int(0.99 * len(delays)))]
    print(
        f"  latency with {replicas} replica(s) at {mine / 2:.0f} records/s ({len(delays)} "
        f"envelopes): p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{delays[-1] * 1000:.0f} ms (load average {common.load_average()})\n"
        f"    cpu: {cpu.text()}"
    )
    first = bench.replicas.pids()[0]
    ingest_cpu = statistics.median(c.by_process["ingest"] for c in rounds.cpu["ours_1"])
    # Ingest CPU per window (us): 10,000 x (% of a core) / (records/s), median over the rounds.
    per_window = {
        phase: statistics.median(
            10_000 * c.by_process["ingest"] / rate
            for c, rate in zip(rounds.cpu[phase], rounds.rates[phase], strict=True)
        )
        for phase in ("ours_1", "ours_1_poll", headline, *(["ours_1_thread"] if thread_ab else []))
    }
    extras = {"replicas": str(replicas)}
    if replicas > 1:
        extras |= {"ours_1": f"{single:.0f}records/s", "ratio_1": f"{single / raw:.2f}"}
    extras |= {
        "p99_ms": f"{p99 * 1000:.0f}",
        "p99_goal": "<=1000",
        "p50_ms": f"{p50 * 1000:.0f}",
        "rss_mb": f"{common.rss_mb(first):.1f}",
        "cpu_pct": f"{ingest_cpu:.0f}",
        "ingest_us": f"{per_window[headline]:.1f}",
        "ingest_us_1": f"{per_window['ours_1']:.1f}",
        "ratio_1_poll": f"{rounds.median('ours_1_poll') / raw:.2f}",
        "ingest_us_1_poll": f"{per_window['ours_1_poll']:.1f}",
    }
    if thread_ab:
        extras |= {
            "ratio_1_thread": f"{rounds.median('ours_1_thread') / raw:.2f}",
            "ingest_us_1_thread": f"{per_window['ours_1_thread']:.1f}",
        }
    extras |= {
        "ingest_us_goal": "<=15",
    }
    ours_text, limit_text = f"{mine:.0f}records/s", f"{raw:.0f}records/s"
    print(
        common.result_line("collector_ingest", mine / raw, ours_text, limit_text, ">=0.7", **extras)
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    parser.add_argument(
        "--replicas",
        type=int,
        default=2,
        help="ingest replicas in the headline phase, ours_N (2: as deploy/central runs them)",
    )
    parser.add_argument(
        "--thread-ab",
        action="store_true",
        help="also ours_1 with paho's network loop in its own thread (ours_1_thread)",
    )
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    records, rounds, latency_s = (10_000, 1, 8.0) if args.quick else (60_000, 3, 30.0)
    print(f"collector_ingest: {common.machine_summary()}, load average {common.load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        started = time.perf_counter()
        run(Path(tmp), records, rounds, latency_s, args.replicas, args.thread_ab)
        print(f"{time.perf_counter() - started:.2f} s wall")


if __name__ == "__main__":
    main()
