"""The agent's fault tests: simulator, agent and broker as real processes, a collector stand-in.

The plant simulator (`retrofit-sim run`) and the agent (`retrofit-agent run`) run as child
processes on one scaled clock (the same start, anchor and speed), so hours of plant time pass in
seconds of wall time; mosquitto is the `mosquitto` fixture. The collector stand-in is a
persistent MQTT v5 session on the shared subscriptions that verifies every envelope's and day
seal's signature and keeps what it received, so a test can check what a real collector would
have seen: every seq once (or again with the same bytes), every device's windows tiling time
without a gap, every device's seals one chain.

Helpers here only start, stop, observe and check; the tests say which fault happens when.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent.keys import generate_key_pair, load_private_key
from contract import wire
from stack import MosquittoServer, free_port
from tests.mqtt_client import MqttTestClient

#: A Monday morning, plant time at the anchor.
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
WINDOW_S = 60
#: Seconds of plant time the simulator bins its ground truth by (its default).
TRUTH_BIN_S = 60
STATES = {0: "off", 1: "running", 2: "idle", 3: "down", 4: "planned_stop"}
PROCESS_START_TIMEOUT_S = 20.0

_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class PlantClock:
    """The scaled clock simulator and agent share: plant = start + (wall - anchor) x speed."""

    speed: float
    start: datetime = START
    anchor: float = field(default_factory=time.time)

    def now(self) -> float:
        """Plant time now, seconds since the epoch."""
        return self.start.timestamp() + (time.time() - self.anchor) * self.speed

    def wall_s(self, plant_s: float) -> float:
        """Wall seconds that ``plant_s`` plant seconds take."""
        return plant_s / self.speed

    def sleep_plant(self, plant_s: float) -> None:
        """Block for ``plant_s`` seconds of plant time."""
        time.sleep(self.wall_s(plant_s))

    def sleep_until(self, plant_ts: float) -> None:
        """Block until plant time ``plant_ts`` (epoch seconds)."""
        time.sleep(max(0.0, self.wall_s(plant_ts - self.now())))

    def config(self) -> dict[str, Any]:
        """The agent configuration's ``clock`` block."""
        return {
            "start": self.start.isoformat(),
            "anchor": datetime.fromtimestamp(self.anchor, UTC).isoformat(),
            "speed": self.speed,
        }


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05
) -> None:
    """Poll ``condition`` until it is true; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


# --- the simulator ------------------------------------------------------------------------


def machine(machine_id: str, unit_id: int, **overrides: Any) -> dict[str, Any]:
    """A Modbus machine of the plant file, running around the clock unless overridden."""
    settings: dict[str, Any] = {
        "id": machine_id,
        "protocol": "modbus",
        "unit_id": unit_id,
        "cycle_s": 30,
        "mtbf_s": 3600,
        "mttr_s": 300,
        "idle_every_s": 1800,
        "idle_mean_s": 120,
        "calendar": {
            "shifts": [
                {
                    "start": "00:00",
                    "end": "00:00",
                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                }
            ]
        },
    }
    settings.update(overrides)
    return settings


class SimProcess:
    """`retrofit-sim run` as a child process with a control port."""

    def __init__(
        self, workdir: Path, clock: PlantClock, machines: Sequence[dict[str, Any]]
    ) -> None:
        self.workdir = workdir
        self.clock = clock
        workdir.mkdir(parents=True, exist_ok=True)
        self.plant_path = workdir / "plant.yaml"
        self.plant_path.write_text(
            yaml.safe_dump({"plant": "faults", "machines": list(machines)}), encoding="utf-8"
        )
        self.log_path = workdir / "sim.log"
        self.control_port = free_port()
        self.modbus_host = ""
        self.modbus_port = 0
        #: The S7 PLC's port when the plant has S7 machines: 0 picks one, kept across restarts.
        self.s7_port: int | None = 0 if any(m["protocol"] == "s7" for m in machines) else None
        #: The OPC UA server's port when the plant has OPC UA machines (chosen here: the
        #: simulator takes no 0 for it), and its endpoint once started.
        self.opcua_port = free_port() if any(m["protocol"] == "opcua" for m in machines) else None
        self.opcua_endpoint = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, seed: int = 7) -> None:
        """Start it and wait for its ready line; fails the test if it does not come."""
        argv = [
            str(_BIN / "retrofit-sim"),
            "run",
            str(self.plant_path),
            "--modbus-port",
            "0",
            "--control-port",
            str(self.control_port),
            "--seed",
            str(seed),
            "--speed",
            repr(self.clock.speed),
            "--start",
            self.clock.start.isoformat(),
            "--anchor",
            repr(self.clock.anchor),
            "--tick",
            "0.02",
            "--log-level",
            "WARNING",
        ]
        if self.s7_port is not None:
            argv += ["--s7-port", str(self.s7_port)]
        if self.opcua_port is not None:
            argv += ["--opcua-port", str(self.opcua_port)]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
        ready = _read_line(self._process, PROCESS_START_TIMEOUT_S)
        if ready is None:
            self.stop()
            pytest.fail(f"retrofit-sim gave no ready line:\n{self.log_path.read_text()[-2000:]}")
        host, port = json.loads(ready)["modbus"].rsplit(":", 1)
        self.modbus_host, self.modbus_port = host, int(port)
        if self.s7_port is not None:
            self.s7_port = int(json.loads(ready)["s7"].rsplit(":", 1)[1])
        if self.opcua_port is not None:
            self.opcua_endpoint = json.loads(ready)["opcua"]

    def control(self, command: str) -> dict[str, Any]:
        """Send one control command; its JSON answer (the test fails on ``ok: false``)."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=10) as conn:
            conn.sendall(command.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
        reply: dict[str, Any] = json.loads(answer)
        assert reply.get("ok"), f"sim control {command!r}: {reply}"
        return reply

    def truth(self, machine_id: str, start: float, end: float) -> dict[str, float]:
        """Exact ground truth over [start, end), epoch seconds on the truth bins."""
        truth: dict[str, float] = self.control(f"truth {machine_id} {start:.0f} {end:.0f}")["truth"]
        return truth

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit."""
        _terminate(self._process)

    def kill(self) -> None:
        """SIGKILL: every server gone at once, as a PLC or gateway losing power."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()


# --- the agent ----------------------------------------------------------------------------


def modbus_device(
    device_id: str,
    sim: SimProcess,
    unit_id: int,
    *,
    poll_interval_s: float,
    timeout_s: float = 0.5,
    ideal_cycle_s: float = 24.0,
) -> dict[str, Any]:
    """An agent device reading one simulated machine's holding registers (docs/simulator.md)."""
    return {
        "id": device_id,
        "protocol": "modbus_tcp",
        "host": sim.modbus_host,
        "port": sim.modbus_port,
        "unit_id": unit_id,
        "poll_interval_s": poll_interval_s,
        "timeout_s": timeout_s,
        "retries": 0,
        "ideal_cycle_s": ideal_cycle_s,
        "tags": {
            "state": {
                "role": "state",
                "register_type": "holding",
                "address": 0,
                "state_map": STATES,
            },
            "total": {
                "role": "total_count",
                "register_type": "holding",
                "address": 2,
                "data_type": "uint32",
                "width": 32,
            },
            "rejects": {
                "role": "reject_count",
                "register_type": "holding",
                "address": 4,
                "data_type": "uint32",
                "width": 32,
            },
            "energy": {
                "role": "energy_kwh",
                "register_type": "holding",
                "address": 8,
                "data_type": "float32",
            },
        },
    }


def write_agent_config(
    workdir: Path,
    broker: MosquittoServer,
    clock: PlantClock,
    devices: Sequence[dict[str, Any]],
    *,
    outbox_path: Path | None = None,
    outbox_capacity_windows: int | None = None,
    window_s: int = WINDOW_S,
    seal_grace_s: int | None = None,
) -> Path:
    """Write a key pair and an agent configuration; the configuration's path."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "agent.key"
    if not key.exists():
        generate_key_pair(key)
    agent: dict[str, Any] = {
        "id": "gw-01",
        "platform": "plat-a",
        "enterprise": "ent-01",
        "key_path": str(key),
        "outbox_path": str(outbox_path or workdir / "outbox.sqlite"),
        "window_s": window_s,
    }
    if outbox_capacity_windows is not None:
        agent["outbox_capacity_windows"] = outbox_capacity_windows
    if seal_grace_s is not None:
        agent["seal_grace_s"] = seal_grace_s
    config = {
        "agent": agent,
        "broker": {"host": broker.host, "port": broker.port, "keepalive_s": 5},
        "clock": clock.config(),
        "devices": list(devices),
    }
    path = workdir / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class AgentProcess:
    """`retrofit-agent run CONFIG` as a child process; every run logs to the same file."""

    def __init__(self, config_path: Path, *, metrics_port: int | None = None) -> None:
        self.config_path = config_path
        self.workdir = config_path.parent
        self.health_path = self.workdir / "health.json"
        self.log_path = self.workdir / "agent.log"
        self.metrics_port = metrics_port
        self.runs = 0
        self._run_log_offset = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        """Start a new run (its log lines follow a ``=== run N`` marker in the log)."""
        assert not self.is_running, "the agent is already running"
        self.runs += 1
        argv = [
            str(_BIN / "retrofit-agent"),
            "run",
            str(self.config_path),
            "--health-file",
            str(self.health_path),
        ]
        if self.metrics_port is not None:
            argv += ["--metrics-port", str(self.metrics_port)]
        with self.log_path.open("ab") as log:
            log.write(f"=== run {self.runs}\n".encode())
            log.flush()
            self._run_log_offset = log.tell()
            self._process = subprocess.Popen(argv, stdout=log, stderr=log)

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """The whole log, every run."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def run_log(self) -> str:
        """The current run's log lines."""
        with self.log_path.open("rb") as log:
            log.seek(self._run_log_offset)
            return log.read().decode("utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = PROCESS_START_TIMEOUT_S) -> None:
        """Wait until the current run logs ``text``; fails if the agent exits first."""

        def seen() -> bool:
            if not self.is_running:
                pytest.fail(f"the agent exited before logging {text!r}:\n{self.run_log()[-3000:]}")
            return text in self.run_log()

        wait_for(seen, timeout_s, f"agent log line {text!r}")

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (clean shutdown: partial windows closed, outbox drained); the exit code."""
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(timeout_s)

    def terminate(self) -> None:
        """Teardown: stop whatever still runs."""
        _terminate(self._process)

    def health_file(self) -> dict[str, Any]:
        """The health document the agent last wrote (every 5 s)."""
        health: dict[str, Any] = json.loads(self.health_path.read_text(encoding="utf-8"))
        return health

    def healthz(self) -> dict[str, Any]:
        """The live health document from ``/healthz`` on the metrics port."""
        health: dict[str, Any] = httpx.get(self._url("/healthz"), timeout=5).json()
        return health

    def metrics(self) -> dict[str, float]:
        """``/metrics`` parsed: ``name{labels}`` -> value."""
        text = httpx.get(self._url("/metrics"), timeout=5).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def outbox_empty(self) -> bool:
        """True when ``/healthz`` shows nothing pending, sealed or held in memory."""
        outbox = self.healthz()["outbox"]
        return bool(
            outbox["pending_windows"] == 0
            and outbox["sealed_batches"] == 0
            and outbox["unsaved_in_memory"] == 0
        )

    def _url(self, path: str) -> str:
        assert self.metrics_port is not None, "start the agent with a metrics port"
        return f"http://127.0.0.1:{self.metrics_port}{path}"


#: An MES hour report's columns, mapped as docs/import.md's interval shape.
MES_HOUR_MAP = ("--shape", "intervals", "--tz", "Asia/Shanghai",
                "--map", "start=开始时间", "--map", "end=结束时间",
                "--map", "run_min=运行时间(分钟)", "--map", "down_min=停机时间(分钟)",
                "--map", "planned_min=计划时间(分钟)", "--map", "total_count=产量",
                "--map", "reject_count=不良品", "--map", "energy_kwh=用电量(kWh)")  # fmt: skip


def write_mes_hours(path: Path, day: date, hours: Iterable[int], *more: date) -> Path:
    """An MES hour report of local ``day`` (and of each day of ``more``, the same hours): each
    hour 50 min run, 10 down, 100 parts, 2 rejects, 12.5 kWh; returns ``path``."""
    header = (
        "开始时间,结束时间,运行时间(分钟),停机时间(分钟),计划时间(分钟),产量,不良品,用电量(kWh)"
    )
    starts = [datetime.combine(d, time_of_day(hour)) for d in (day, *more) for hour in hours]
    rows = [
        f"{start:%Y-%m-%d %H:%M},{start + timedelta(hours=1):%Y-%m-%d %H:%M},50,10,60,100,2,12.5"
        for start in starts
    ]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def import_mes_hours(config: Path, report: Path, device: str) -> subprocess.CompletedProcess[str]:
    """``retrofit-agent import`` of an MES hour report (:func:`write_mes_hours`) for ``device``."""
    return subprocess.run(
        [str(_BIN / "retrofit-agent"), "import", str(report), "--config", str(config),
         "--device", device, *MES_HOUR_MAP],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


# --- the collector stand-in ---------------------------------------------------------------


@dataclass
class Received:
    """What the collector stand-in has seen, checked as it arrives."""

    by_seq: dict[int, bytes] = field(default_factory=dict)
    windows: dict[int, list[wire.KpiWindow]] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: list[int] = field(default_factory=list)  # seqs seen again with other bytes
    #: Day seals by (device, chain index): their published bytes.
    seals: dict[tuple[str, int], bytes] = field(default_factory=dict)
    #: (device, index) seen again with other bytes: one index, two contents.
    seal_conflicts: list[tuple[str, int]] = field(default_factory=list)

    def records(self) -> list[wire.KpiWindow]:
        """Every window received once, in seq order."""
        return [w for seq in sorted(self.windows) for w in self.windows[seq]]

    def day_seals(self) -> dict[str, list[tuple[wire.DaySeal, bytes]]]:
        """Each device's seals (decoded, with their bytes), in chain order."""
        chains: dict[str, list[tuple[wire.DaySeal, bytes]]] = {}
        for (device, _index), raw in sorted(self.seals.items()):
            chains.setdefault(device, []).append((wire.decode_day_seal(raw), raw))
        return chains

    def by_device(self) -> dict[str, list[wire.KpiWindow]]:
        """Each device's windows, in seq order (the order the agent sent them)."""
        devices: dict[str, list[wire.KpiWindow]] = {}
        for window in self.records():
            devices.setdefault(window.device, []).append(window)
        return devices


class Collector:
    """A persistent session on `$share/collectors/...` (windows and day seals) that verifies
    every envelope and seal."""

    def __init__(self, broker: MosquittoServer, key_path: Path) -> None:
        self.public_key = load_private_key(key_path).public_key()
        self.client = MqttTestClient("collector-1")
        # paho's default reconnect backoff grows to 120 s; the broker comes back in seconds.
        self.client.paho.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(broker, clean_start=False)
        self.client.subscribe(wire.shared_filter("collectors", "windows"))
        self.client.subscribe(wire.shared_filter("collectors", "day_seals"))
        self.received = Received()

    def collect(self, quiet_s: float = 0.3, max_s: float = 2.0) -> Received:
        """Take in what arrives until ``quiet_s`` without a message, or ``max_s`` in all."""
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            try:
                message = self.client.messages.get(timeout=quiet_s)
            except queue.Empty:
                break
            if message.topic.endswith("/day_seals"):
                self._take_seal(bytes(message.payload))
            else:
                self._take(bytes(message.payload))
        return self.received

    def _take_seal(self, payload: bytes) -> None:
        seal = wire.decode_day_seal(payload)
        wire.verify(seal, self.public_key)  # raises BadSignature
        # A seal takes its seq from the envelopes' counter: the same once-only rule holds.
        if self.received.by_seq.setdefault(seal.seq, payload) != payload:
            self.received.conflicts.append(seal.seq)
        key = (seal.device, seal.index)
        known = self.received.seals.setdefault(key, payload)
        if known != payload:
            self.received.seal_conflicts.append(key)

    def _take(self, payload: bytes) -> None:
        envelope = wire.decode_envelope(payload)
        wire.verify(envelope, self.public_key)  # raises BadSignature
        known = self.received.by_seq.get(envelope.seq)
        if known is None:
            self.received.by_seq[envelope.seq] = payload
            self.received.windows[envelope.seq] = list(envelope.records)
        elif known == payload:
            self.received.duplicates += 1
        else:
            self.received.conflicts.append(envelope.seq)

    def wait_until(
        self, condition: Callable[[Received], bool], timeout_s: float, what: str
    ) -> Received:
        """Collect until ``condition(received)`` holds; fail naming ``what`` after ``timeout_s``."""
        wait_for(lambda: condition(self.collect(0.1, max_s=0.5)), timeout_s, what, poll_s=0)
        return self.received

    def close(self) -> None:
        self.client.close()


# --- checks -------------------------------------------------------------------------------


def assert_seqs_sound(received: Received) -> None:
    """Seqs 1..N each seen, none with two different contents."""
    assert not received.conflicts, f"seq reused for different content: {received.conflicts}"
    seqs = sorted(received.by_seq)
    assert seqs, "no batch arrived"
    missing = sorted(set(range(1, seqs[-1] + 1)) - set(seqs))
    assert not missing, f"seqs missing (lost batches): {missing}"


def assert_no_window_twice(received: Received) -> None:
    """No window of a device arrives twice as different content (evidence would count it twice).

    A batch re-sent with its seq and bytes is a duplicate the collector drops; a window stored
    twice in the outbox travels in two batches (or twice in one) and would be counted twice.
    """
    seen: dict[tuple[str, datetime], int] = {}
    twice: list[str] = []
    for seq in sorted(received.windows):
        for window in received.windows[seq]:
            key = (window.device, window.start)
            if key in seen:
                twice.append(
                    f"{window.device} {window.start.isoformat()} in seq {seen[key]}, {seq}"
                )
            seen.setdefault(key, seq)
    assert not twice, f"{len(twice)} windows sent twice (device, start, in seqs): " + "; ".join(
        twice[:10]
    )


def assert_tiled(windows: Sequence[wire.KpiWindow]) -> None:
    """One device's windows, in the order sent, cover time without gap or overlap."""
    breaks = [
        f"{after.start.isoformat()}..{after.end.isoformat()} after one ending "
        f"{before.end.isoformat()} ({'overlap' if after.start < before.end else 'gap'})"
        for before, after in itertools.pairwise(windows)
        if after.start != before.end
    ]
    assert not breaks, f"device {windows[0].device}: {len(breaks)} breaks: " + "; ".join(
        breaks[:10]
    )


def duration_s(window: wire.KpiWindow) -> float:
    """A window's length in seconds."""
    return (window.end - window.start).total_seconds()


def aligned(ts: float, step: float = TRUTH_BIN_S) -> bool:
    """True if ``ts`` is on the ``step`` grid (to the millisecond)."""
    # rel_tol=0: the default relative tolerance (1e-9 of ~3e7 minutes) would let ~2 s pass.
    return math.isclose(ts / step, round(ts / step), rel_tol=0.0, abs_tol=1e-6)


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def processes() -> Iterator[ExitStack]:
    """An exit stack that stops every process and client a test registers, even on failure."""
    with ExitStack() as stack:
        yield stack


def start_sim(
    processes: ExitStack, workdir: Path, clock: PlantClock, machines: Sequence[dict[str, Any]]
) -> SimProcess:
    """A started simulator, stopped at teardown."""
    sim = SimProcess(workdir, clock, machines)
    processes.callback(sim.stop)
    sim.start()
    return sim


def start_agent(
    processes: ExitStack, config: Path, *, metrics_port: int | None = None
) -> AgentProcess:
    """A started agent, stopped at teardown."""
    agent = AgentProcess(config, metrics_port=metrics_port)
    processes.callback(agent.terminate)
    agent.start()
    return agent


def start_collector(processes: ExitStack, broker: MosquittoServer, key_path: Path) -> Collector:
    """A subscribed collector stand-in, closed at teardown."""
    collector = Collector(broker, key_path)
    processes.callback(collector.close)
    return collector


# --- process plumbing ---------------------------------------------------------------------


def _read_line(process: subprocess.Popen[bytes], timeout_s: float) -> bytes | None:
    """The first line of a child's stdout within ``timeout_s``, None if it exits or is silent."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffered:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return None
            buffered += chunk
    return buffered.split(b"\n", 1)[0]


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stdout is not None:
        process.stdout.close()
