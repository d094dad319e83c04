"""A programme-scale fleet against the collector: sustained windows/s, and the ratio to 2,000/s.

The programme: 6,000 enterprises x 20 devices with one-minute windows is 2,000 windows/s. The
goal (issue #19): the collector on this 2-core machine sustains five times that.

Setup: real mosquitto, influxd and PostgreSQL (``stack``, loopback ports), the registry on
PostgreSQL with the example plan and every fleet agent registered with its own Ed25519 key
(derived from the agent's index, so the fleet process makes the same keys), and two
``retrofit-collector ingest`` replicas in one share group with the shipped defaults (as
``deploy/central`` runs them).

The fleet is one light child process (``fleet.py fleet-child``; its CPU is not the
collector's): one asyncio loop holding N agents, each its own MQTT v5 session (its own TCP
connection, client id = agent id), each first publishing its signed ``online`` status
(retained, as the agent's birth message), then its windows: one envelope of D windows per
agent every period, with real consecutive seqs, signed with its key, the agents' sends spread
evenly over the period. Envelopes are built and signed before the clock starts.

Phases:

- latency: the programme's own rate (2,000 windows/s: period = N x D / 2,000 s). For each
  envelope, publish → queryable: the time until the replicas' ``rv_ingest_written_records_total``
  (a write InfluxDB answered 204, the definition of queryable the ingest bench uses) covers it,
  read every 20 ms. With two replicas the order of writes is not the order of publishes, so this
  is the envelope's position in the written count, not its own write: within a few batches.
  p50 and p99.
- sustained: ``--speedup`` times the programme's rate (default 6: above the goal of 5, so the
  figure is what the collector holds, not what we offered). Sustained windows/s = every window
  of the phase / (last written - first published). Then one ``count()`` checks InfluxDB holds
  every window of both phases once. Replica RSS (max) and CPU (% of one core, over the phase),
  PostgreSQL transactions/s (``pg_stat_database`` of the registry: commits + rollbacks), the
  machine's other load.

Ends with ``fleet: ratio=<sustained / 2,000> ...`` (goal >= 5).

    .venv/bin/python bench/fleet.py [--quick] [--agents N] [--devices D] [--speedup X]

``--quick`` (200 agents, phases of a few seconds: a smoke figure) takes about a minute with the
collector at ~900 windows/s, as on the loaded machine of 2026-12-07 (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
from collector_ingest import Replicas, minute_window
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rawmqtt import _text, _varint

from collector.plan import load_plan
from collector.registry import Registry
from contract import wire
from stack import InfluxServer, MosquittoServer, PostgresServer

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
PLATFORM = "plat-a"
PROGRAMME_WINDOWS_PER_S = 2000.0
GOAL = 5.0
T0 = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = wire.config_digest(b"fleet bench agent.yaml")
ENTERPRISES = 10  # ent-01..ent-10: the example plan's enterprises on plat-a
METRICS_POLL_S = 0.02
WRITTEN = "rv_ingest_written_records_total"
_CONNECT, _PUBLISH_QOS1, _PUBLISH_QOS1_RETAIN, _PUBACK = 0x10, 0x32, 0x33, 0x40


# --- the agents (both processes) --------------------------------------------------------------


def agent_id(index: int) -> str:
    """The fleet's agent ids: ``fleet-00000``..."""
    return f"fleet-{index:05d}"


def enterprise(index: int) -> str:
    """The plan enterprise an agent belongs to."""
    return f"ent-{index % ENTERPRISES + 1:02d}"


def agent_key(seed: int, index: int) -> Ed25519PrivateKey:
    """The agent's key, the same in the bench and in the fleet process."""
    raw = (seed.to_bytes(8, "big") + index.to_bytes(8, "big")) * 2
    return Ed25519PrivateKey.from_private_bytes(raw)


def devices(count: int) -> list[str]:
    """The device ids of every agent."""
    return [f"dev-{n:02d}" for n in range(count)]


def envelope_bytes(seed: int, index: int, seq: int, device_count: int) -> bytes:
    """Agent ``index``'s signed envelope ``seq``: one window per device, minute ``seq``."""
    start = T0 + timedelta(minutes=seq)
    records = [minute_window(device, start, DIGEST) for device in devices(device_count)]
    return wire.encode(
        wire.seal_envelope(
            platform=PLATFORM,
            enterprise=enterprise(index),
            agent=agent_id(index),
            seq=seq,
            sent=start + timedelta(seconds=61),
            records=records,
            key=agent_key(seed, index),
        )
    )


def status_bytes(seed: int, index: int) -> bytes:
    """Agent ``index``'s signed birth status (``online``)."""
    return wire.encode(
        wire.seal_status(
            platform=PLATFORM,
            enterprise=enterprise(index),
            agent=agent_id(index),
            sent=datetime.now(UTC).replace(microsecond=0),
            state="online",
            agent_version="fleet-bench",
            config_digest=DIGEST,
            outbox_depth=0,
            key=agent_key(seed, index),
        )
    )


# --- the fleet process ------------------------------------------------------------------------


def _publish_packet(topic: str, packet_id: int, payload: bytes, *, retain: bool) -> bytes:
    head = _text(topic) + struct.pack("!H", packet_id) + _varint(0)
    kind = _PUBLISH_QOS1_RETAIN if retain else _PUBLISH_QOS1
    return bytes([kind]) + _varint(len(head) + len(payload)) + head + payload


class Outstanding:
    """Publishes of every session not yet acknowledged; `all_acked` set when none is."""

    def __init__(self) -> None:
        self.count = 0
        self.all_acked = asyncio.Event()

    def sent(self) -> None:
        """One more publish on the wire."""
        self.count += 1
        self.all_acked.clear()

    def acked(self) -> None:
        """One PUBACK came."""
        self.count -= 1
        if self.count == 0:
            self.all_acked.set()


class Session:
    """One agent's MQTT v5 session: CONNECT, QoS 1 publishes, PUBACKs counted."""

    def __init__(self, index: int, outstanding: Outstanding) -> None:
        self.index = index
        self.outstanding = outstanding
        self._next_id = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int) -> None:
        """Open the connection and wait for a successful CONNACK (raises ConnectionError)."""
        reader, writer = await asyncio.open_connection(host, port)
        variable = _text("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 0) + _varint(0)
        body = variable + _text(agent_id(self.index))
        writer.write(bytes([_CONNECT]) + _varint(len(body)) + body)
        kind, packet = await _read_packet(reader)
        if kind != 0x20 or packet[1] != 0:
            raise ConnectionError(f"{agent_id(self.index)}: CONNACK {packet[:2].hex()}")
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_acks(reader))

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        while True:
            kind, _ = await _read_packet(reader)
            if kind == _PUBACK:
                self.outstanding.acked()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Queue one QoS 1 PUBLISH on the connection."""
        if self._writer is None:
            raise ConnectionError("not connected")
        self._next_id = self._next_id % 0xFFFF + 1
        self._writer.write(_publish_packet(topic, self._next_id, payload, retain=retain))
        self.outstanding.sent()

    def close(self) -> None:
        """DISCONNECT and close."""
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._writer is not None:
            self._writer.write(bytes([0xE0, 0]))
            self._writer.close()


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind = (await reader.readexactly(1))[0] & 0xF0
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return kind, await reader.readexactly(length)


async def _fleet(args: argparse.Namespace) -> None:
    count, first, rounds = args.agents, args.first_seq, args.rounds
    built = time.monotonic()
    schedule = [
        (round_ * args.period_s + index * args.period_s / count, index, first + round_)
        for round_ in range(rounds)
        for index in range(count)
    ]
    payloads = {
        (index, seq): envelope_bytes(args.seed, index, seq, args.devices)
        for _, index, seq in schedule
    }
    topics = [wire.windows_topic(PLATFORM, enterprise(i), agent_id(i)) for i in range(count)]
    outstanding = Outstanding()
    sessions = [Session(index, outstanding) for index in range(count)]
    for first in range(0, count, 200):  # in steps, not 6,000 SYNs at once
        await asyncio.gather(*(s.connect(args.host, args.port) for s in sessions[first:][:200]))
    if args.status:
        for session in sessions:
            topic = wire.status_topic(PLATFORM, enterprise(session.index), agent_id(session.index))
            session.publish(topic, status_bytes(args.seed, session.index), retain=True)
    print(json.dumps({"ready": True, "build_s": time.monotonic() - built}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    published: list[float] = []
    start = time.monotonic()
    for offset, index, seq in schedule:
        delay = start + offset - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sessions[index].publish(topics[index], payloads[(index, seq)])
        published.append(time.monotonic())
    await outstanding.all_acked.wait()
    acked_at = time.monotonic()
    for session in sessions:
        session.close()
    print(json.dumps({"published": published, "acked_at": acked_at}), flush=True)


def fleet_child(argv: list[str]) -> None:
    """The fleet process's command line (run by the bench, not by people)."""
    parser = argparse.ArgumentParser(prog="fleet.py fleet-child")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    for name in ("agents", "devices", "first-seq", "rounds", "seed"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--period-s", type=float, required=True)
    parser.add_argument("--status", action="store_true")
    asyncio.run(_fleet(parser.parse_args(argv)))


# --- the bench ----------------------------------------------------------------------------------


class Fleet:
    """The fleet child process for one phase: built and connected, then started on a word."""

    def __init__(self, broker: MosquittoServer, args: argparse.Namespace, **phase: object):
        argv = [sys.executable, __file__, "fleet-child", "--host", broker.host]
        argv += ["--port", str(broker.port), "--agents", str(args.agents)]
        argv += ["--devices", str(args.devices), "--seed", str(args.seed)]
        for name, value in phase.items():
            if value is True:
                argv.append(f"--{name.replace('_', '-')}")
            elif value is not False:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.ready = self._line()

    def _line(self) -> dict[str, object]:
        if self.process.stdout is None:
            raise RuntimeError("fleet: no stdout")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"fleet process ended: exit {self.process.wait()}")
        parsed: dict[str, object] = json.loads(line)
        return parsed

    def go(self) -> float:
        """Start publishing; when we said so (monotonic seconds)."""
        if self.process.stdin is None:
            raise RuntimeError("fleet: no stdin")
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return time.monotonic()

    def result(self) -> tuple[list[float], float]:
        """Publish times of every envelope, and when the last PUBACK came."""
        done = self._line()
        self.process.wait(60)
        published = done["published"]
        acked_at = done["acked_at"]
        if not isinstance(published, list) or not isinstance(acked_at, float):
            raise RuntimeError(f"fleet: unexpected result {done!r:.200}")
        return [float(t) for t in published], acked_at


def register_fleet(url: str, args: argparse.Namespace) -> float:
    """The example plan and every fleet agent in the registry; seconds it took."""
    started = time.monotonic()
    with Registry(url) as registry:
        registry.load_plan(load_plan(PLAN), by="fleet bench")
        for index in range(args.agents):
            registry.add_agent(
                agent_id(index), platform=PLATFORM, enterprise=enterprise(index),
                public_key=wire.public_key_text(agent_key(args.seed, index).public_key()),
                devices=devices(args.devices), by="fleet bench",
            )  # fmt: skip
    return time.monotonic() - started


def wait_written(replicas: Replicas, target: float, timeout_s: float) -> list[tuple[float, float]]:
    """Poll the replicas' written count until ``target``; the (time, count) samples."""
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        count = replicas.counters().get(WRITTEN, 0.0)
        samples.append((time.monotonic(), count))
        if count >= target:
            return samples
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {count:.0f} of {target:.0f} windows written in {timeout_s} s")
        time.sleep(METRICS_POLL_S)


def latencies(
    published: list[float], samples: list[tuple[float, float]], base: float, per_envelope: int
) -> list[float]:
    """For envelope i: first sample whose count covers it, minus its publish time."""
    found: list[float] = []
    position = 0
    for i, sent in enumerate(published):
        needed = base + (i + 1) * per_envelope
        while position < len(samples) and samples[position][1] < needed:
            position += 1
        if position == len(samples):
            break
        found.append(max(0.0, samples[position][0] - sent))
    return found


def transactions(postgres: PostgresServer) -> float:
    """Commits + rollbacks of the registry database so far."""
    ((value,),) = postgres.sql(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'registry'"
    )
    return float(value)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a server and its live children (PostgreSQL's backends are the
    postmaster's children, each in a session of its own: a process group would miss them).
    A backend that exited during the phase takes its CPU with it: the pool keeps them open."""
    total = common.cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # ppid
                total += common.cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):  # exited while we looked
            continue
    return total


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_phase(
    broker: MosquittoServer, replicas: Replicas, args: argparse.Namespace, **phase: object
) -> tuple[list[float], list[tuple[float, float]], float, float]:
    """One fleet phase: (publish times, written samples, count before, seconds it took)."""
    fleet = Fleet(broker, args, **phase)
    try:
        before = replicas.counters().get(WRITTEN, 0.0)
        envelopes = args.agents * int(str(phase["rounds"]))
        fleet.go()
        samples = wait_written(replicas, before + envelopes * args.devices, args.drain_timeout_s)
        published, _acked_at = fleet.result()
    finally:  # interrupted or failed: the fleet process must not outlive the bench
        if fleet.process.poll() is None:
            fleet.process.kill()
            fleet.process.wait()
    return published, samples, before, samples[-1][0] - published[0]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "fleet-child":
        fleet_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200 agents, short phases")
    parser.add_argument("--agents", type=int, default=None, help="default 6000 (quick: 200)")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--speedup", type=float, default=6.0, help="x the programme's rate")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--drain-timeout-s", type=float, default=600.0)
    args = parser.parse_args()
    args.agents = args.agents or (200 if args.quick else 6000)
    # Seconds of publishing in each phase (whole rounds of every agent, at least one).
    latency_s, sustained_s = (3.0, 1.5) if args.quick else (60.0, 60.0)
    print(f"fleet bench: {common.machine_summary()}; load {common.load_average()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rv-fleet-") as tmp:
        workdir = Path(tmp)
        run(workdir, args, latency_s, sustained_s)


def run(workdir: Path, args: argparse.Namespace, latency_s: float, sustained_s: float) -> None:
    """Start the servers and replicas, run both phases, print the figures."""
    windows_per_round = args.agents * args.devices
    programme_period = windows_per_round / PROGRAMME_WINDOWS_PER_S
    fast_period = programme_period / args.speedup
    latency_rounds = max(1, round(latency_s / programme_period))
    fast_rounds = max(2, round(sustained_s / fast_period))
    with (
        MosquittoServer(workdir / "mqtt", autosave_interval_s=0) as broker,
        InfluxServer(workdir / "influx") as influx,
        PostgresServer(workdir / "postgres") as postgres,
    ):
        influx.create_database("rv")
        postgres.create_database("registry")
        url = postgres.url("registry")
        print(f"registered {args.agents} agents in {register_fleet(url, args):.1f} s", flush=True)
        replicas = Replicas(workdir, broker, influx)
        replicas.document["registry"] = url
        try:
            replicas.start(["collector-1", "collector-2"])
            figures(broker, influx, postgres, replicas, args, latency_rounds, fast_rounds)
        finally:
            replicas.stop_all()
            postgres.remove_data()


def figures(
    broker: MosquittoServer,
    influx: InfluxServer,
    postgres: PostgresServer,
    replicas: Replicas,
    args: argparse.Namespace,
    latency_rounds: int,
    fast_rounds: int,
) -> None:
    """Both phases, the checks, and the output lines."""
    period = args.agents * args.devices / PROGRAMME_WINDOWS_PER_S
    published, samples, before, _ = run_phase(
        broker, replicas, args, first_seq=1, rounds=latency_rounds, period_s=period, status=True
    )
    waits = latencies(published, samples, before, args.devices)
    print(
        f"latency at {PROGRAMME_WINDOWS_PER_S:.0f} windows/s ({len(waits)} envelopes): "
        f"p50={statistics.median(waits) * 1000:.0f}ms p99={percentile(waits, 0.99) * 1000:.0f}ms",
        flush=True,
    )
    pids = replicas.pids()
    cpu0 = {pid: common.cpu_seconds(pid) for pid in pids}
    servers = {"mosquitto": broker.pid, "influxd": influx.pid, "postgres": postgres.pid}
    server0 = {name: tree_cpu_seconds(pid or 0) for name, pid in servers.items()}
    counters0 = replicas.counters()
    busy0, xact0, wall0 = common.machine_busy_seconds(), transactions(postgres), time.monotonic()
    published, samples, before, took = run_phase(
        broker, replicas, args, first_seq=1 + latency_rounds, rounds=fast_rounds,
        period_s=period / args.speedup,
    )  # fmt: skip
    wall = time.monotonic() - wall0
    cpu = [100 * (common.cpu_seconds(pid) - cpu0[pid]) / wall for pid in pids]
    rss = [common.rss_mb(pid) for pid in pids]
    xact_per_s = (transactions(postgres) - xact0) / wall
    server_cpu = {
        name: 100 * (tree_cpu_seconds(pid or 0) - server0[name]) / wall
        for name, pid in servers.items()
    }
    counters = {k: v - counters0.get(k, 0.0) for k, v in replicas.counters().items()}
    batches = counters.get("rv_ingest_written_batches_total", 0.0) or float("nan")
    registry_ms = 1000 * counters.get("rv_ingest_registry_wall_seconds_total", 0.0)
    machine_cores = (common.machine_busy_seconds() - busy0) / wall
    windows = len(published) * args.devices
    sustained = windows / took
    offered = windows / (published[-1] - published[0]) if len(published) > 1 else float("nan")
    total = args.agents * (latency_rounds + fast_rounds) * args.devices
    stored = int(
        influx.query_rows("rv", 'SELECT count("seq") FROM "rv"."raw"."kpi_window"')[0]["count"]
    )
    print(
        f"sustained: {windows} windows offered at {offered:.0f}/s, all written in {took:.1f} s; "
        f"replicas cpu {' '.join(f'{c:.0f}%' for c in cpu)} "
        f"rss {' '.join(f'{r:.0f}MB' for r in rss)}; "
        f"postgres {xact_per_s:.0f} transactions/s; machine busy {machine_cores:.2f} cores "
        f"(load {common.load_average()})",
        flush=True,
    )
    print(
        "where the time went: "
        + " ".join(f"{name} {pct:.0f}%" for name, pct in server_cpu.items())
        + f" of one core; {windows / batches:.0f} windows per InfluxDB write; registry "
        f"{registry_ms / (len(published) or 1):.1f} ms wall per envelope (both replicas)",
        flush=True,
    )
    if stored != total:
        raise SystemExit(f"fleet: InfluxDB holds {stored} windows, expected {total} once each")
    print(f"checked: InfluxDB holds all {total} windows once", flush=True)
    print(
        common.result_line(
            "fleet",
            sustained / PROGRAMME_WINDOWS_PER_S,
            f"{sustained:.0f}windows/s",
            f"{PROGRAMME_WINDOWS_PER_S:.0f}windows/s",
            f">={GOAL:g}",
            agents=str(args.agents),
            devices=str(args.devices),
            offered=f"{offered:.0f}windows/s",
            p50_ms=f"{statistics.median(waits) * 1000:.0f}",
            p99_ms=f"{percentile(waits, 0.99) * 1000:.0f}",
            replica_cpu_pct="/".join(f"{c:.0f}" for c in cpu),
            replica_rss_mb="/".join(f"{r:.0f}" for r in rss),
            pg_xact_per_s=f"{xact_per_s:.0f}",
            machine_cores=f"{machine_cores:.2f}",
        ),
        flush=True,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
