"""Records/s from MQTT to queryable in InfluxDB through ``retrofit-collector ingest`` vs /write.

Setup: a real mosquitto and influxd (``stack``), a registry with the example plan and the bench
agents, and ``retrofit-collector ingest`` as a child process with the shipped defaults
(inflight 64, flush_after_s 0.2). Envelopes are what an agent sends at a window close for 20
devices: 20 one-minute windows (~12 kB), signed with the agent's registered key.

- ours: every envelope published at QoS 1 from one pipelined paho client; timed from the first
  publish until ``count(seq)`` in InfluxDB shows every record (polled every 50 ms): the whole
  path, broker → checks → signature → seq record → /write → day rollups → ack → queryable.
- limit (the ratio): the same records as line protocol (``collector.store.window_line``),
  POSTed to /write of the same influxd in 5,000-line batches over one HTTP connection, timed
  until the last 204 (a 204 is queryable).
- latency: envelopes published at half of ours (records/s), one every 1/rate s; for each, the
  time from its publish to the first poll that shows it. p50 and p99; goal p99 <= 1 s.

``rss_mb`` and ``cpu_pct`` are the ingest process's (VmRSS at the end, CPU over the ours phase).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
import httpx
import paho.mqtt.client as mqtt
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from agent import wire
from collector.registry import Registry, load_plan
from collector.store import window_line, window_records
from stack import InfluxServer, MosquittoServer

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
PLATFORM = "plat-a"
DEVICES = 20
T0 = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = wire.config_digest(b"bench agent.yaml")
LINES_PER_WRITE = 5000
POLL_S = 0.05


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
        """The next seq's envelope: one window per device."""
        self.seq += 1
        start = T0 + timedelta(minutes=self.seq)
        records = [_window(f"dev-{n:02d}", start) for n in range(DEVICES)]
        return wire.seal_envelope(
            platform=PLATFORM, enterprise=self.enterprise, agent=self.agent, seq=self.seq,
            sent=start + timedelta(seconds=61), records=records, key=self.key,
        )  # fmt: skip


def _window(device: str, start: datetime) -> wire.KpiWindow:
    quality = wire.DataQuality(
        samples=60, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
        counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    return wire.KpiWindow(
        device=device, start=start, end=start + timedelta(minutes=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=60.0, planned_s=60.0, run_s=48.5, idle_s=9.0,
        down_s=2.5, off_s=0.0, planned_stop_s=0.0, total_count=13, good_count=12,
        reject_count=1, energy_kwh=0.731, ideal_cycle_s=3.5, quality=quality,
    )  # fmt: skip


# --- the servers and the ingest process ---------------------------------------------------


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


def start_ingest(
    workdir: Path, broker: MosquittoServer, influxd: InfluxServer
) -> subprocess.Popen[bytes]:
    """``retrofit-collector ingest`` with the shipped defaults; returns once it is connected."""
    config = workdir / "collector.yaml"
    document = {
        "registry": str(workdir / "registry.sqlite"),
        "broker": {"host": broker.host, "port": broker.port},
        "influx": {"url": influxd.url, "database": "rv"},
    }
    config.write_text(yaml.safe_dump(document))
    log_path = workdir / "ingest.log"
    ingest = Path(sys.executable).with_name("retrofit-collector")
    argv = [str(ingest), "ingest", "--config", str(config), "--client-id", "bench-collector"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log_path.open("wb"))
    deadline = time.monotonic() + 30
    while b"connected to" not in log_path.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            common.stop_process(process)
            raise RuntimeError(f"ingest did not start; see {log_path}")
        time.sleep(0.05)
    return process


class Counter:
    """``count(seq)`` of one agent's windows in InfluxDB, over one kept-alive connection."""

    def __init__(self, influxd: InfluxServer) -> None:
        self._http = httpx.Client(base_url=influxd.url, timeout=10)

    def windows(self, agent: str) -> int:
        """Stored windows of ``agent``."""
        # S608: InfluxQL of literals and the bench's own agent ids, no outside input.
        query = f'SELECT count("seq") FROM "rv"."raw"."kpi_window" WHERE "agent" = \'{agent}\''  # noqa: S608
        answer = self._http.post("/query", data={"db": "rv", "q": query}).json()
        series = answer["results"][0].get("series")
        return int(series[0]["values"][0][1]) if series else 0

    def wait_for(self, agent: str, total: int, timeout_s: float = 600) -> list[tuple[float, int]]:
        """Poll every POLL_S until ``total`` windows are stored; (time, count) of every poll."""
        polls: list[tuple[float, int]] = []
        deadline = time.monotonic() + timeout_s
        while not polls or polls[-1][1] < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {polls[-1][1]} of {total} windows of {agent} stored")
            polls.append((time.perf_counter(), self.windows(agent)))
            time.sleep(POLL_S)
        return polls


class Publisher:
    """A paho QoS 1 publisher, many messages in flight; ``sent_at`` keeps each publish time."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-agents", protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(200)
        connected = threading.Event()
        self.client.on_connect = lambda *_: connected.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not connected.wait(10):
            raise RuntimeError("bench publisher could not connect")
        self.sent_at: list[float] = []

    def send(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 publish and note when."""
        self.sent_at.append(time.perf_counter())
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        """Disconnect (queued publishes are sent first by ``loop_stop``'s caller waiting)."""
        self.client.disconnect()
        self.client.loop_stop()


# --- phases -------------------------------------------------------------------------------


def ours(publisher: Publisher, counter: Counter, agent: BenchAgent, payloads: list[bytes]) -> float:
    """Records/s from the first publish to the last record queryable."""
    started = time.perf_counter()
    for payload in payloads:
        publisher.send(agent.topic, payload)
    polls = counter.wait_for(agent.agent, len(payloads) * DEVICES)
    return len(payloads) * DEVICES / (polls[-1][0] - started)


def limit(influxd: InfluxServer, envelopes: list[wire.Envelope]) -> float:
    """Records/s of raw line-protocol writes of the same records to the same influxd."""
    lines = [window_line(r) for e in envelopes for r in window_records(e)]
    influxd.create_database("rawbench")
    with httpx.Client(base_url=influxd.url, timeout=60) as http:
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
    payloads = [wire.encode(agent.next_envelope()) for _ in range(count)]
    first_sent = len(publisher.sent_at)
    done = threading.Event()

    def send_paced() -> None:
        tick = time.perf_counter()
        for payload in payloads:
            publisher.send(agent.topic, payload)
            tick += interval_s
            time.sleep(max(0.0, tick - time.perf_counter()))
        done.set()

    sender = threading.Thread(target=send_paced)
    sender.start()
    polls = counter.wait_for(agent.agent, count * DEVICES)
    sender.join()
    sent_at = publisher.sent_at[first_sent:]
    # One publisher and one replica: windows arrive in order, so the first n envelopes are
    # stored once n x DEVICES windows are.
    latencies, poll = [], 0
    for index, sent in enumerate(sent_at):
        while polls[poll][1] < (index + 1) * DEVICES:
            poll += 1
        latencies.append(polls[poll][0] - sent)
    return latencies


def run(workdir: Path, records: int, rounds: int, latency_s: float) -> None:
    """Start everything, measure, print the figures and the result line."""
    envelopes_per_round = records // DEVICES
    agents = [BenchAgent(f"gw-bench-{n}", f"ent-{n + 1:02d}") for n in range(rounds + 2)]
    setup_registry(workdir / "registry.sqlite", agents)
    with (
        MosquittoServer(workdir / "mqtt", autosave_interval_s=0) as broker,
        InfluxServer(workdir / "influx") as influxd,
    ):
        ingest = start_ingest(workdir, broker, influxd)
        publisher, counter = Publisher(broker), Counter(influxd)
        try:
            warm = agents[-1]
            for _ in range(3):  # the ingest's first batches: imports, connections, caches
                publisher.send(warm.topic, wire.encode(warm.next_envelope()))
            counter.wait_for(warm.agent, 3 * DEVICES, timeout_s=30)
            figures: dict[str, list[float]] = {"ours": [], "limit": []}
            cpu_before, wall_before = common.cpu_seconds(ingest.pid), time.perf_counter()
            for round_no in range(rounds):
                agent = agents[round_no]
                envelopes = [agent.next_envelope() for _ in range(envelopes_per_round)]
                payloads = [wire.encode(e) for e in envelopes]
                figures["ours"].append(ours(publisher, counter, agent, payloads))
                figures["limit"].append(limit(influxd, envelopes))
                print(
                    f"  round {round_no + 1}: ours {figures['ours'][-1]:8.0f} records/s, "
                    f"raw /write {figures['limit'][-1]:8.0f} records/s "
                    f"({envelopes_per_round} envelopes of {DEVICES} records)",
                    flush=True,
                )
            cpu_pct = (
                100
                * (common.cpu_seconds(ingest.pid) - cpu_before)
                / (time.perf_counter() - wall_before)
            )
            mine, raw = statistics.median(figures["ours"]), statistics.median(figures["limit"])
            delays = sorted(latency(publisher, counter, agents[-2], mine / 2, latency_s))
            p50, p99 = (
                delays[len(delays) // 2],
                delays[min(len(delays) - 1, int(0.99 * len(delays)))],
            )
            print(
                f"  latency at {mine / 2:.0f} records/s ({len(delays)} envelopes): p50 "
                f"{p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms"
            )
            rss = common.rss_mb(ingest.pid)
        finally:
            publisher.close()
            common.stop_process(ingest)
    print(
        common.result_line(
            "collector_ingest",
            mine / raw,
            f"{mine:.0f}records/s",
            f"{raw:.0f}records/s",
            ">=0.7",
            p99_ms=f"{p99 * 1000:.0f}",
            p99_goal="<=1000",
            p50_ms=f"{p50 * 1000:.0f}",
            rss_mb=f"{rss:.1f}",
            cpu_pct=f"{cpu_pct:.0f}",
        )
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    args = parser.parse_args()
    records, rounds, latency_s = (10_000, 1, 8.0) if args.quick else (60_000, 3, 30.0)
    print(f"collector_ingest: {common.machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        started = time.perf_counter()
        run(Path(tmp), records, rounds, latency_s)
        print(f"{time.perf_counter() - started:.2f} s wall")


if __name__ == "__main__":
    main()
