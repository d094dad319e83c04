"""What the collector's fault tests share: agents with keys, envelopes, ingest processes, counts.

`retrofit-collector ingest` runs as a real child process (one per replica), reading a
collector config written here; the tests publish signed envelopes as agents would, through
one pipelined paho client, and count what reached InfluxDB and the registry's quarantine.
Helpers here only start, stop, publish and observe; the tests say which fault happens when.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import paho.mqtt.client as mqtt
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from collector.plan import load_plan
from collector.registry import Registry
from contract import wire
from stack import InfluxServer, MosquittoServer
from tests.collector.seal_helpers import SealChain

PLAN = Path(__file__).parents[3] / "deploy" / "examples" / "plan.yaml"
PLATFORM = "plat-a"
#: Window starts: seq n of an agent covers [T0 + n min, T0 + n + 1 min).
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
INGEST = Path(sys.executable).with_name("retrofit-collector")
START_TIMEOUT_S = 20.0
DIGEST = wire.config_digest(b"fault-test agent.yaml")


def seeded_key(rng: random.Random) -> Ed25519PrivateKey:
    """An Ed25519 key from the test's seeded generator (the same run gives the same keys)."""
    return Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))


@dataclass(frozen=True)
class SigningAgent:
    """An agent the registry knows: id, enterprise, key and the devices it reports."""

    agent: str
    enterprise: str
    key: Ed25519PrivateKey
    devices: tuple[str, ...]

    @property
    def topic(self) -> str:
        """Its windows topic."""
        return wire.windows_topic(PLATFORM, self.enterprise, self.agent)

    @property
    def seals_topic(self) -> str:
        """Its day seals topic."""
        return wire.day_seals_topic(PLATFORM, self.enterprise, self.agent)

    def seal_chain(self, device: str) -> SealChain:
        """A chain of day seals of one of its devices, signed with its key."""
        return SealChain(self.key, PLATFORM, self.enterprise, self.agent, device)

    def envelope(
        self,
        seq: int,
        *,
        run_s: float = 50.0,
        key: Ed25519PrivateKey | None = None,
        minute: int | None = None,
    ) -> wire.Envelope:
        """Window ``seq`` of every device, signed with ``key`` (default: the agent's own).

        ``minute`` (default ``seq``): the window covers [T0 + minute, T0 + minute + 1 min).
        """
        start = T0 + timedelta(minutes=seq if minute is None else minute)
        records = [window(device, start, run_s) for device in self.devices]
        return wire.seal_envelope(
            platform=PLATFORM,
            enterprise=self.enterprise,
            agent=self.agent,
            seq=seq,
            sent=start + timedelta(minutes=1, seconds=1),
            records=records,
            key=key or self.key,
        )

    def payload(
        self, seq: int, *, run_s: float = 50.0, key: Ed25519PrivateKey | None = None
    ) -> bytes:
        """The bytes of :meth:`envelope`."""
        return wire.encode(self.envelope(seq, run_s=run_s, key=key))


def window(device: str, start: datetime, run_s: float = 50.0) -> wire.KpiWindow:
    """A plausible one-minute window of ``device`` from ``start``."""
    return wire.KpiWindow(
        device=device,
        start=start,
        end=start + timedelta(minutes=1),
        provenance="measured",
        config_digest=DIGEST,
        scheduled_s=60.0,
        planned_s=60.0,
        run_s=run_s,
        idle_s=60.0 - run_s,
        down_s=0.0,
        off_s=0.0,
        planned_stop_s=0.0,
        total_count=12,
        good_count=11,
        reject_count=1,
        energy_kwh=0.25,
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


def make_agents(rng: random.Random, count: int, devices: int) -> list[SigningAgent]:
    """``count`` agents on enterprises ent-01.. of the example plan, ``devices`` devices each."""
    return [
        SigningAgent(
            agent=f"gw-fault-{n}",
            enterprise=f"ent-{n % 10 + 1:02d}",
            key=seeded_key(rng),
            devices=tuple(f"dev-{d}" for d in range(devices)),
        )
        for n in range(count)
    ]


def register(
    path: Path | str, agents: Iterable[SigningAgent], *, revoked: Iterable[SigningAgent] = ()
) -> None:
    """Load the example plan into the registry at ``path`` and register (then revoke) agents."""
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="fault test")
        for agent in [*agents, *revoked]:
            registry.add_agent(
                agent.agent,
                platform=PLATFORM,
                enterprise=agent.enterprise,
                public_key=wire.public_key_text(agent.key.public_key()),
                devices=agent.devices,
                by="fault test",
            )
        for agent in revoked:
            registry.revoke_agent(agent.agent, by="fault test", reason="key reported stolen")


def write_config(
    path: Path,
    registry: Path | str,
    broker: MosquittoServer,
    influxd: InfluxServer,
    *,
    inflight: int,
) -> Path:
    """The collector's YAML config for these servers; returns ``path``."""
    document = {
        "registry": str(registry),
        "broker": {"host": broker.host, "port": broker.port, "group": "collectors"},
        "influx": {"url": influxd.url, "database": "rv", "timeout_s": 2.0},
        "ingest": {"inflight": inflight, "flush_after_s": 0.05},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@dataclass
class IngestProcess:
    """``retrofit-collector ingest --config F --client-id ID`` as a child process."""

    config: Path
    client_id: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it says it is connected. Raises AssertionError if it is not."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self._close_log()
        self._log = self.log_path.open("ab")
        offset = self.log_path.stat().st_size
        argv = [str(INGEST), "ingest", "--config", str(self.config), "--client-id", self.client_id]
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=self._log)
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"connected to" not in self.log_path.read_bytes()[offset:]:
            assert self.process.poll() is None, f"ingest exited: {self.tail()}"
            assert time.monotonic() < deadline, f"ingest did not connect: {self.tail()}"
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        """Its process id."""
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> int | None:
        """SIGTERM it (SIGKILL after 10 s); its exit code."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_log()
        return None if self.process is None else self.process.returncode

    def rss_kb(self) -> int:
        """VmRSS of the process in kB (``/proc/PID/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for pid {self.pid}")

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Publisher:
    """One paho client publishing at QoS 1 with many messages in flight (not one by one)."""

    broker: MosquittoServer
    client_id: str = "fault-publisher"
    max_inflight: int = 200
    acked: int = 0
    refused: list[int] = field(default_factory=list)
    _client: mqtt.Client | None = None
    _sent: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __enter__(self) -> Publisher:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.max_inflight_messages_set(self.max_inflight)
        # paho's default queue is unbounded; publish() only enqueues, the loop thread sends.
        connected = threading.Event()
        client.on_connect = lambda *_: connected.set()
        client.on_publish = self._on_publish
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        assert connected.wait(10), "publisher got no CONNACK"
        self._client = client
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._client is not None
        self._client.disconnect()
        self._client.loop_stop()
        # The bound on_publish ties this publisher and its client in a cycle, and paho closes
        # loop_start's socket pair only in reinitialise() or when the client is collected
        # (eclipse-paho/paho.mqtt.python#627): close it now, not as a ResourceWarning later.
        self._client.reinitialise()

    def _on_publish(
        self, _client: object, _userdata: object, mid: int, reason: ReasonCode, _props: object
    ) -> None:
        with self._cond:
            self.acked += 1
            if reason.is_failure:  # e.g. 16, no matching subscribers: the message is gone
                self.refused.append(mid)
            self._cond.notify_all()

    def send(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 publish; paho sends it with up to ``max_inflight`` unacknowledged."""
        assert self._client is not None
        info = self._client.publish(topic, payload, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish refused locally: {info.rc}"
        self._sent += 1

    def send_all(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Publish every message, then wait for every PUBACK."""
        for topic, payload in messages:
            self.send(topic, payload)
        self.wait_acked()

    def wait_acked(self, timeout_s: float = 60.0) -> None:
        """Block until the broker acknowledged everything sent. Raises AssertionError."""
        with self._cond:
            done = self._cond.wait_for(lambda: self.acked >= self._sent, timeout_s)
        assert done, f"only {self.acked} of {self._sent} publishes acknowledged"
        assert not self.refused, f"{len(self.refused)} publishes refused by the broker"


def count_windows(influxd: InfluxServer, where: str = "") -> int:
    """Points in the raw window measurement (optionally ``WHERE ...``)."""
    clause = f" WHERE {where}" if where else ""
    query = f'SELECT count("seq") FROM "rv"."raw"."kpi_window"{clause}'  # noqa: S608 - test-made
    rows = influxd.query_rows("rv", query)
    return int(rows[0]["count"]) if rows else 0


def distinct_windows(influxd: InfluxServer) -> set[tuple[str, str, int]]:
    """(agent, device, seq) of every stored window point."""
    rows = influxd.query_rows(
        "rv", 'SELECT "seq" FROM "rv"."raw"."kpi_window" GROUP BY "agent", "device"'
    )
    return {(row["agent"], row["device"], int(row["seq"])) for row in rows}


def wait_until(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    detail: Callable[[], str] = lambda: "",
) -> None:
    """Poll ``condition`` every 0.2 s until it holds. Raises AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout_s:g} s {detail()}"
        time.sleep(0.2)


def ingest_ready(
    broker: MosquittoServer, influxd: InfluxServer, probe: SigningAgent, seq: int = 1
) -> None:
    """Publish one probe window and wait until it is stored: the share group is subscribed."""
    with Publisher(broker, client_id="fault-probe") as publisher:
        for _ in range(100):  # before SUBSCRIBE lands mosquitto answers 16, no subscribers
            publisher.refused.clear()
            publisher.send(probe.topic, probe.payload(seq))
            try:
                publisher.wait_acked(10)
                break
            except AssertionError:
                time.sleep(0.1)
        else:
            raise AssertionError("no ingest replica subscribed within 10 s")
    wait_until(
        lambda: count_windows(influxd, f"\"agent\" = '{probe.agent}'") >= len(probe.devices),
        60,  # a replica starting on a busy machine: a CI run under load 15 took over 20 s
        "the probe window stored",
    )


def assert_stored_exactly_once(
    influxd: InfluxServer,
    registry_path: Path | str,
    agents: Sequence[SigningAgent],
    last_seq: int,
    logs: Callable[[], str],
) -> None:
    """Every window of seqs 1..last_seq of every agent is in InfluxDB once; the registry clean.

    Waits up to 90 s for the count; ``logs`` says what to show if it is not reached.
    """
    expected = {
        (agent.agent, device, seq)
        for agent in agents
        for device in agent.devices
        for seq in range(1, last_seq + 1)
    }
    wait_until(
        lambda: count_windows(influxd) >= len(expected),
        90,
        f"{len(expected)} windows stored",
        lambda: f"(have {count_windows(influxd)}; {logs()})",
    )
    assert count_windows(influxd) == len(expected)
    assert distinct_windows(influxd) == expected
    with Registry(registry_path) as registry:
        assert registry.quarantine_counts() == {}
        for agent in agents:
            assert registry.seq_gaps(agent.agent) == []
            assert registry.highest_seq(agent.agent) == last_seq
