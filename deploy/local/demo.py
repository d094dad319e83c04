"""The local end-to-end demo (README's main job): a platform's pilots over weeks of plant time.

Starts a real mosquitto and a real influxd, the plant simulator serving every enterprise's
machines (Modbus TCP, OPC UA, an S7 PLC, and the power meters and DI modules of the enterprise
with no controllers) on a fast plant clock, the registry with the implementation
plan and each agent's public key, the collector ingest, and one ``retrofit-agent run`` process
per enterprise with its own key. The plant plays the baseline period, the go-live and the
reporting period (sim/scenario.py says what each enterprise's retrofit does); then the evidence
engine judges every enterprise from the daily rollups in InfluxDB, and the report shows the
verdicts, the platform roll-up with the subsidy, and how close the agents' daily sums came to
the simulator's exact ground truth. Every number travels device → agent → MQTT → collector →
InfluxDB → evidence. Ctrl-C stops everything it started. docs/demo.md explains it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

import yaml
from demo_report import evidence_and_report, rollup_command
from demo_web import (
    DemoLogin,
    add_demo_reviewer,
    demo_password,
    run_web_evidence,
    screenshot_enterprise_page,
    wait_for_web,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agent.keys import generate_key_pair
from collector.proof import fingerprint
from collector.registry import Registry
from contract.keys import load_private_key
from sim import pace
from sim.pace import SpeedChoice
from sim.plant import PlantConfig
from sim.scenario import (
    RETROFIT_ENTERPRISE,
    AgentSettings,
    DemoEnterprise,
    Timeline,
    agent_document,
    demo_enterprises,
    plan_document,
    plant_document,
    timeline,
)
from stack import ChildProcess, InfluxServer, MosquittoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
console = Console(highlight=False, log_path=False)


@dataclass(frozen=True)
class Mode:
    """How big and how fast: the quick mode CI runs, or the full platform."""

    enterprises: int
    period_days: int
    with_energy: bool
    #: The fastest plant clock speed; the demo runs slower when this machine cannot carry it.
    speed: float
    #: Wall seconds from launching the processes to the plant clock's anchor.
    startup_s: float = 15.0
    #: The most wall seconds the plant may take: the slowest speed the demo chooses when this
    #: machine cannot carry ``speed``. None: always ``speed``.
    max_play_s: float | None = None
    settings: AgentSettings = field(
        default=AgentSettings(poll_interval_s=600, window_s=3600, comm_loss_after_s=21600)
    )


#: Quick: three enterprises (one of each role), four-week periods, OEE and defect-rate targets.
#: The processes are up in 2-5 s on the 2-core machine (an agent whose first Modbus connect came
#: before the simulator listened retries at its first poll, on the anchor); 8 s leaves room.
#: Its speed is fixed (the CI's run; tests/deploy/test_demo.py reruns slower when polls were lost).
QUICK = Mode(enterprises=3, period_days=28, with_energy=False, speed=50_000, startup_s=8.0)
#: Full: twelve enterprises, six-week periods so the energy-per-unit target can be judged too.
#: 86 plant days in at most 600 s (12,500x or faster): with setup (about 40 s, 70 s on a new
#: machine) and the 160 s before and after the plant, the default run stays under 15 minutes.
#: Its agents poll every 15 plant minutes (72 wall ms at 12,500x): a third fewer polls for the
#: 36 devices than every 10 minutes (docs/demo.md "Speeds").
FULL = Mode(
    enterprises=12,
    period_days=42,
    with_energy=True,
    speed=15_000,
    startup_s=30.0,
    settings=AgentSettings(poll_interval_s=900, window_s=3600, comm_loss_after_s=21600),
    max_play_s=600,
)


def choose_speed(mode: Mode, enterprises: int) -> SpeedChoice | None:
    """The fastest speed up to the mode's that this machine carries now (sim/pace.py), but not
    so slow that the plant takes longer than ``mode.max_play_s``; None for a fixed speed."""
    if mode.max_play_s is None:
        return None
    plant_s = timeline(mode.period_days).plant_s
    return pace.choose_speed(
        pace.DEMO_COST,
        enterprises=enterprises,
        top_speed=mode.speed,
        floor_speed=plant_s / mode.max_play_s,
    )


#: The share of their polls the agents should keep (issue 18); under it the demo warns.
POLLS_KEPT_GOAL = 0.95


class Interrupted(Exception):
    """SIGINT or SIGTERM: stop everything started, then exit 130."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


@dataclass
class Demo:
    """The running demo's processes and files."""

    out: Path
    mode: Mode
    enterprises: list[DemoEnterprise]
    days: Timeline
    broker: MosquittoServer
    influx: InfluxServer
    children: list[ChildProcess] = field(default_factory=list)
    agents: dict[str, ChildProcess] = field(default_factory=dict)
    #: ``retrofit-agent retire`` of the gateways switched off for good.
    retirements: list[ChildProcess] = field(default_factory=list)
    anchor: float = 0.0
    control_port: int = 0

    def plant_time(self) -> dt.datetime:
        """The plant clock now, local time of the plant."""
        elapsed = (time.time() - self.anchor) * self.mode.speed
        return self.days.plant_start + dt.timedelta(seconds=elapsed)

    def wall_s_until(self, moment: dt.datetime) -> float:
        """Wall seconds until the plant clock reaches ``moment``."""
        return (moment - self.plant_time()).total_seconds() / self.mode.speed

    def start_child(self, name: str, argv: list[str]) -> ChildProcess:
        """Start a child process in its own group, logged to logs/NAME.log, stopped at the end."""
        child = ChildProcess(name, argv, self.out / "logs" / f"{name}.log", cwd=self.out)
        child.start()
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        """Stop every child: the agents first (their last windows still reach the collector)."""
        agents = [c for c in self.children if c.name.startswith("agent")]
        stop_together(agents)
        stop_together([c for c in self.children if c not in agents])
        for server in (self.broker, self.influx):
            with contextlib.suppress(Exception):
                server.stop()


def stop_together(children: list[ChildProcess], grace_s: float = 30.0) -> None:
    """SIGTERM to each (then SIGKILL after ``grace_s``), all at once: twelve agents each
    draining its outbox should not take twelve times as long."""

    def stop(child: ChildProcess) -> None:
        with contextlib.suppress(Exception):
            child.stop(grace_s=grace_s)

    with ThreadPoolExecutor(max_workers=max(1, len(children))) as pool:
        list(pool.map(stop, children))


def collector(*args: str) -> None:
    """Run a ``retrofit-collector`` command; its failure stops the demo with its output."""
    result = subprocess.run(
        [str(BIN / "retrofit-collector"), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"demo: retrofit-collector {args[0]} failed:\n{result.stdout}{result.stderr}"
        )


def fresh_out_dir(out: Path) -> None:
    """A previous run's broker, database, registry, keys and outboxes would mix with this one."""
    for stale in ("mosquitto", "influxd", "agents", "logs", "screenshots", "evidence", "simulator",
                  "web-evidence"):  # fmt: skip
        shutil.rmtree(out / stale, ignore_errors=True)
    # Only the demo's own files: --out may name a folder that holds other things too.
    names = [
        "plan.yaml",
        "plan.xlsx",
        "plant.yaml",
        "collector.yaml",
        "verdicts.json",
        "truth.json",
        "demo.html",
        "bundle.key",
        "bundle.key.pub",
    ]
    names += ["registry.sqlite", "registry.sqlite-wal", "registry.sqlite-shm"]
    for name in names:
        (out / name).unlink(missing_ok=True)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    (out / "agents").mkdir(exist_ok=True)


def register_plan(demo: Demo, config: Path) -> dict[str, str]:
    """Keys for every agent, the plan with their public keys, validated and loaded."""
    keys = {
        enterprise.agent_id: generate_key_pair(demo.out / "agents" / f"{enterprise.agent_id}.key")
        for enterprise in demo.enterprises
    }
    # The plan lists at least the 10 enterprises a platform must complete (the rest without an
    # agent in a quick run): each listed enterprise gets a bundle with two PDFs.
    plan = plan_document(
        demo.enterprises,
        demo.days,
        keys,
        listed=max(10, len(demo.enterprises)),
        with_energy=demo.mode.with_energy,
    )
    path = demo.out / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), "utf-8")
    # The province writes its plan in a spreadsheet: the demo loads the plan as a workbook,
    # exported from the YAML it generated (docs/plan-workbook.md).
    workbook = demo.out / "plan.xlsx"
    collector("plan", "export", str(path), "--format", "xlsx", "--out", str(workbook))
    collector("plan", "validate", str(workbook))
    collector("plan", "load", str(workbook), "--by", "demo", "--config", str(config))
    return keys


@dataclass(frozen=True)
class Ports:
    """The simulator's servers: Modbus TCP (controllers, meters, DI modules), OPC UA, S7."""

    modbus: int
    opcua: int
    s7: int


def start_simulator(demo: Demo, ports: Ports) -> ChildProcess:
    """The simulator on the plant clock, every enterprise's machines on three ports."""
    plant = plant_document(demo.enterprises, demo.days)
    (demo.out / "plant.yaml").write_text(yaml.safe_dump(plant, allow_unicode=True), "utf-8")
    demo.control_port = free_port()
    # Ticks every 5 ms: at 50,000x the values served are at most 250 plant seconds old.
    tick_s = min(0.05, 250.0 / demo.mode.speed)
    return demo.start_child("simulator", [
        str(BIN / "retrofit-sim"), "run", str(demo.out / "plant.yaml"),
        "--modbus-port", str(ports.modbus), "--opcua-port", str(ports.opcua),
        "--s7-port", str(ports.s7), "--control-port", str(demo.control_port),
        "--seed", "1", "--start", demo.days.plant_start.isoformat(),
        "--speed", str(demo.mode.speed), "--anchor", str(demo.anchor), "--tick", str(tick_s),
        "--truth-bin", "900", "--work-dir", str(demo.out / "simulator"), "--log-level", "WARNING",
    ])  # fmt: skip


def wait_until_ready(demo: Demo, simulator: ChildProcess) -> float:
    """Until the simulator serves and every agent has its broker and every device; wall seconds.

    An OPC UA device whose first connect came before the simulator listened retries after a
    backoff of wall seconds: at 50,000x each second missed is half a plant day.
    """
    started = time.monotonic()
    deadline = started + 120
    signs = {"simulator": ['{"event": "ready"']}
    for enterprise in demo.enterprises:
        signs[f"agent-{enterprise.id}"] = [
            "connected to broker",
            *(f"device {device}: connected to" for device in enterprise.machine_ids),
        ]
    waiting = {"simulator": simulator, **{c.name: c for c in demo.agents.values()}}
    while waiting and time.monotonic() < deadline:
        for name, child in list(waiting.items()):
            text = child.log_path.read_text("utf-8", errors="replace")
            if all(sign in text for sign in signs[name]):
                del waiting[name]
            elif not child.is_running:
                raise SystemExit(f"demo: {name} stopped while starting:\n{child.log_tail()}")
        time.sleep(0.1)
    if waiting:
        raise SystemExit(f"demo: not ready after 120 s: {', '.join(waiting)} (see logs/)")
    return time.monotonic() - started


def start_plant(demo: Demo) -> tuple[Path, str]:
    """Broker, InfluxDB, the registry with the plan, the bundle key, then the simulator, the
    ingest and the agents on the plant clock; returns the collector's configuration and the
    bundle key's fingerprint once all are ready."""
    demo.broker.start()
    demo.influx.start()
    demo.influx.create_database("rv")
    console.log(f"mosquitto {demo.broker.url}, InfluxDB {demo.influx.url}")
    collector_config = write_collector_config(demo)
    register_plan(demo, collector_config)
    console.log(f"registry: plan validated and loaded, {len(demo.enterprises)} agent keys")
    collector_key = make_bundle_key(demo)
    console.log(f"bundle key: bundles are signed by {collector_key}")
    # Plant time starts a few wall seconds from now, once everything is up; the plant clock
    # begins on a quiet Saturday afternoon, 40 plant hours before the first shift. The
    # simulator starts first: the agents' first connect then finds it listening.
    demo.anchor = time.time() + demo.mode.startup_s
    ports = Ports(modbus=free_port(), opcua=free_port(), s7=free_port())
    simulator = start_simulator(demo, ports)
    start_ingest(demo, collector_config)
    start_agents(demo, ports)
    ready_s = wait_until_ready(demo, simulator)
    console.log(
        f"simulator (Modbus TCP :{ports.modbus}, OPC UA :{ports.opcua}, S7 :{ports.s7}) and "
        f"{len(demo.agents)} agents (one process and key per enterprise) ready in "
        f"{ready_s:.1f} s; plant time starts in {demo.anchor - time.time():.1f} s"
    )
    return collector_config, collector_key


def write_collector_config(demo: Demo) -> Path:
    """The collector's configuration, which every ``retrofit-collector`` command reads: the
    registry, the running broker and InfluxDB, ingest metrics and the web app on free ports."""
    config = {
        "registry": str(demo.out / "registry.sqlite"),
        "broker": {"host": demo.broker.host, "port": demo.broker.port, "client_id": "collector-1"},
        "influx": {"url": demo.influx.url, "database": "rv"},
        "ingest": {"metrics_port": free_port()},
        # Bundles signed by the collector's key; the reviewer pins its fingerprint.
        "bundle": {"signing_key_path": str(demo.out / "bundle.key")},
        # The web app on loopback over plain HTTP (so no Secure cookie): a laptop demo.
        "web": {
            "host": "127.0.0.1",
            "port": free_port(),
            "evidence_dir": str(demo.out / "web-evidence"),
            "cookie_secure": False,
        },
    }
    path = demo.out / "collector.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def make_bundle_key(demo: Demo) -> str:
    """The collector's bundle signing key (``bundle-key generate``); its fingerprint, which the
    operator publishes and the reviewer pins (docs/operations.md, "The bundle key")."""
    path = demo.out / "bundle.key"
    collector("bundle-key", "generate", str(path))
    key = load_private_key(path, create_with="retrofit-collector bundle-key generate")
    return fingerprint(key.public_key())


def start_ingest(demo: Demo, config: Path) -> None:
    """One ``retrofit-collector ingest`` process (its metrics port is in ``config``)."""
    demo.start_child("ingest", [str(BIN / "retrofit-collector"), "ingest", "--config", str(config)])


def start_agents(demo: Demo, ports: Ports) -> None:
    """One ``retrofit-agent run`` per enterprise, each with its own key and outbox.

    They start with the simulator, before it serves: their sources retry until it does, and
    they poll from the plant clock's anchor on.
    """
    plant = PlantConfig.model_validate(yaml.safe_load((demo.out / "plant.yaml").read_text()))
    clock = {
        "start": demo.days.plant_start.isoformat(),
        "anchor": dt.datetime.fromtimestamp(demo.anchor, dt.UTC).isoformat(),
        "speed": demo.mode.speed,
    }
    for enterprise in demo.enterprises:
        folder = demo.out / "agents"
        document = agent_document(
            enterprise,
            plant,
            modbus=("127.0.0.1", ports.modbus),
            opcua_endpoint=f"opc.tcp://127.0.0.1:{ports.opcua}/retrofit-sim",
            s7=("127.0.0.1", ports.s7),
            broker=(demo.broker.host, demo.broker.port),
            clock=clock,
            paths={
                "key": str(folder / f"{enterprise.agent_id}.key"),
                "outbox": str(folder / f"{enterprise.agent_id}.outbox.sqlite"),
            },
            settings=demo.mode.settings,
        )
        path = folder / f"{enterprise.agent_id}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
        demo.agents[enterprise.id] = demo.start_child(
            f"agent-{enterprise.id}",
            [str(BIN / "retrofit-agent"), "run", str(path),
             "--health-file", str(folder / f"{enterprise.agent_id}.health.json")],
        )  # fmt: skip


def ingest_metrics(config: Path) -> dict[str, float]:
    """The ingest's Prometheus metrics (empty while it does not answer)."""
    port = yaml.safe_load(config.read_text())["ingest"]["metrics_port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                values[name] = float(value)
    return values


def play(demo: Demo, ingest_config: Path) -> None:
    """Let the plant run to the end of the reporting period, showing progress."""
    offline = [e for e in demo.enterprises if e.role == "goes_offline"]
    total_s = demo.days.plant_s / demo.mode.speed
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("plant", total=total_s, status="")
        while (remaining := demo.wall_s_until(demo.days.plant_end)) > 0:
            now = demo.plant_time()
            for enterprise in list(offline):
                if now >= demo.days.offline_at:
                    demo.agents[enterprise.id].stop()  # the gateway is switched off for good
                    retire(demo, enterprise)
                    progress.console.print(
                        f"{now:%Y-%m-%d %H:%M} {enterprise.id}: gateway switched off and "
                        "retired (it will have too few days in the reporting period)"
                    )
                    offline.remove(enterprise)
            metrics = ingest_metrics(ingest_config)
            written = int(metrics.get("rv_ingest_written_records_total", 0))
            share = poll_share(demo, running_only=True)
            kept = "  – %" if share is None else f"{100 * share:3.0f} %"
            period = (
                "baseline" if now.date() <= demo.days.baseline[1]
                else "go-live" if now.date() < demo.days.reporting[0] else "reporting"
            )  # fmt: skip
            progress.update(
                task,
                completed=total_s - remaining,
                description=f"plant {now:%Y-%m-%d %a %H:%M} ({period})",
                status=f"{written:>6} windows in InfluxDB, polls kept {kept}",
            )
            crashed = [c.name for c in demo.children if c.returncode not in (None, 0)]
            if crashed:
                raise SystemExit(f"demo: {', '.join(crashed)} stopped unexpectedly (see logs/)")
            time.sleep(min(0.5, max(remaining, 0.01)))
        progress.update(task, completed=total_s)


def retire(demo: Demo, enterprise: DemoEnterprise) -> None:
    """``retrofit-agent retire`` on a stopped gateway's agent: the day it stopped in is sealed
    as it stands and sent, so its enterprise's bundle has no unsealed device-day (docs/demo.md).
    A child of its own: the plant plays on while it sends."""
    config = demo.out / "agents" / f"{enterprise.agent_id}.yaml"
    demo.retirements.append(
        demo.start_child(
            f"retire-{enterprise.id}", [str(BIN / "retrofit-agent"), "retire", str(config)]
        )
    )


def issued_seals(demo: Demo) -> set[str]:
    """The hash of every day seal the agents issued, read from their outboxes (read-only)."""
    hashes: set[str] = set()
    for enterprise in demo.enterprises:
        path = demo.out / "agents" / f"{enterprise.agent_id}.outbox.sqlite"
        if path.exists():
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                hashes |= {sha256 for (sha256,) in db.execute("SELECT sha256 FROM day_seals")}
    return hashes


def poll_share(demo: Demo, *, running_only: bool = False) -> float | None:
    """Share of the polls the agents made of those their poll grid asked for (0..1).

    From each agent's health file (written every 5 wall seconds and at its end): per device
    ``polls`` made and ``polls_skipped``, the grid points that passed while a poll was still
    running (the agent counts them). Well under 1 means the machine is too busy for the plant
    clock's speed: state times are sampled more coarsely, and gaps beyond
    ``comm_loss_after_s`` become comm loss (try a lower --speed). None before any file.
    """
    made = asked = 0
    for enterprise in demo.enterprises:
        if running_only and not demo.agents[enterprise.id].is_running:
            continue
        path = demo.out / "agents" / f"{enterprise.agent_id}.health.json"
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            devices = json.loads(path.read_text("utf-8"))["devices"].values()
            counts = [(int(d["polls"]), int(d["polls_skipped"])) for d in devices]
            made += sum(polls for polls, _ in counts)
            asked += sum(polls + skipped for polls, skipped in counts)
    return made / asked if asked > 0 else None


def settle(demo: Demo, ingest_config: Path, timeout_s: float = 60.0) -> dict[str, float]:
    """Stop the agents (open windows close as partial and are sent, the days already over are
    sealed), wait for the retirements, and for the collector to hold and check every seal."""
    stop_together(list(demo.agents.values()))
    deadline = time.monotonic() + timeout_s
    for retirement in demo.retirements:
        while retirement.is_running and time.monotonic() < deadline:
            time.sleep(0.2)
        if retirement.returncode != 0:
            raise SystemExit(f"demo: {retirement.name} failed:\n{retirement.log_tail()}")
    last: dict[str, float] = {}
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = ingest_metrics(ingest_config)
        key = "rv_ingest_written_records_total"
        if now.get("rv_ingest_inflight_messages") == 0 and now.get(key) == last.get(key):
            break
        last = now
    # Every seal the agents issued was acknowledged by the broker before they exited; the
    # collector stores each and marks its day, whose refresh checks the row against it. The
    # registry lists the days still to do.
    issued = issued_seals(demo)
    missing: list[str] = []
    with Registry(demo.out / "registry.sqlite") as registry:
        while time.monotonic() < deadline + 30:
            missing = [sha256 for sha256 in issued if registry.day_seal(sha256) is None]
            if not missing and not registry.dirty_days():
                break
            time.sleep(0.5)
        else:
            console.print(f"[yellow]{len(missing)} day seals not in the registry[/yellow]")
    return last


def start_web(demo: Demo, config: Path, screenshots: bool) -> tuple[DemoLogin, list[str]]:
    """``retrofit-collector serve`` with a demo reviewer; evidence through its API; a screenshot."""
    token, temporary = add_demo_reviewer(config, province="330200")
    port = yaml.safe_load(config.read_text())["web"]["port"]
    login = DemoLogin(
        url=f"http://127.0.0.1:{port}", user="demo-reviewer", token=token,
        temporary_password=temporary, password=demo_password(),
    )  # fmt: skip
    serve = demo.start_child(
        "web", [str(BIN / "retrofit-collector"), "serve", "--config", str(config)]
    )
    wait_for_web(login.url, serve)
    run_web_evidence(login, demo.enterprises, console.log)
    shot = None
    if screenshots:  # the screenshot's login sets the reviewer's own password
        target = demo.out / "screenshots" / "web-enterprise-page.png"
        shot = screenshot_enterprise_page(login, demo.enterprises[0].id, target)
    if shot is not None:
        lines = [
            f"web app:     {login.url}/  log in as {login.user} with the password {login.password}",
            f"screenshot:  {shot}",
        ]
    else:
        lines = [
            f"web app:     {login.url}/  log in as {login.user} with the temporary password "
            f"{login.temporary_password} (to change at the first login)",
            "screenshot:  " + ("chromium not found" if screenshots else "skipped"),
        ]
    lines.append(f"api token:   {login.token} (for scripts: Authorization: Bearer ...)")
    return login, lines


def ground_truth(demo: Demo) -> dict[str, dict[str, dict[str, float]]]:
    """The simulator's exact sums per machine and local day of both periods (control port)."""
    truth: dict[str, dict[str, dict[str, float]]] = {}
    with socket.create_connection(("127.0.0.1", demo.control_port), timeout=30) as channel:
        reader = channel.makefile("r", encoding="utf-8")
        for enterprise in demo.enterprises:
            for machine in enterprise.machine_ids:
                for day in _days(demo.days.baseline[0], demo.days.reporting[1]):
                    start = dt.datetime.combine(day, dt.time(0, 0), demo.days.plant_start.tzinfo)
                    end = start + dt.timedelta(days=1)
                    channel.sendall(
                        f"truth {machine} {start.timestamp():.0f} {end.timestamp():.0f}\n".encode()
                    )
                    answer = json.loads(reader.readline())
                    if not answer.get("ok"):
                        raise SystemExit(f"demo: ground truth for {machine}: {answer}")
                    truth.setdefault(machine, {})[day.isoformat()] = answer["truth"]
    return truth


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 enterprises, 4-week periods (about 2 minutes)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--enterprises", type=int, help="how many enterprises to simulate (3..12)")
    parser.add_argument("--speed", type=float, help="plant seconds per wall second")
    parser.add_argument(
        "--no-screenshots", action="store_true", help="skip the headless-Chromium screenshots"
    )
    parser.add_argument(
        "--no-web", action="store_true", help="skip the web app (the end-to-end test does)"
    )
    parser.add_argument(
        "--serve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the web app up after the run until Ctrl-C (default: on, off with --quick)",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    mode = QUICK if args.quick else FULL
    if args.serve is None:
        args.serve = not args.quick
    enterprises = args.enterprises or mode.enterprises
    choice = None if args.speed else choose_speed(mode, enterprises)
    why = "--speed" if args.speed else "this mode's speed"
    if choice is not None:
        args.speed = choice.speed
        why = (
            f"chosen: {choice.reason}; the run asks for {choice.cores:.2f} cores, the "
            f"simulator {choice.simulator_cores:.2f}"
        )
    mode = replace(mode, enterprises=enterprises, speed=args.speed or mode.speed)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    fresh_out_dir(out)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    demo = Demo(
        out=out,
        mode=mode,
        enterprises=demo_enterprises(mode.enterprises),
        days=timeline(mode.period_days),
        broker=MosquittoServer(out / "mosquitto"),
        influx=InfluxServer(out / "influxd"),
    )
    started = time.monotonic()
    serving = False
    try:
        console.rule("retrofit-verify local demo")
        console.print(
            f"{len(demo.enterprises)} pilot enterprises × 3 machines (Modbus TCP, OPC UA, one "
            f"on S7; {RETROFIT_ENTERPRISE}'s through a power meter and a DI module only), "
            f"baseline {demo.days.baseline[0]}..{demo.days.baseline[1]}, go-live "
            f"{demo.days.go_live}, reporting {demo.days.reporting[0]}..{demo.days.reporting[1]}; "
            f"plant clock at {mode.speed:,.0f}x ({demo.days.plant_s / 86400:.0f} plant days in "
            f"{demo.days.plant_s / mode.speed:.0f} s)"
        )
        console.print(f"plant clock speed {mode.speed:,.0f}x ({why})")
        collector_config, collector_key = start_plant(demo)
        first_shift = dt.datetime.combine(
            demo.days.baseline[0], dt.time(6, 0), demo.days.plant_start.tzinfo
        )
        if demo.plant_time() > first_shift:
            console.print(
                f"[yellow]the processes were ready only at plant time {demo.plant_time():%a %H:%M}"
                "[/yellow], after the baseline's first shift began: the machine is busy, and "
                "that day's first hours are missing (a lower --speed gives them more time)"
            )
        play(demo, collector_config)
        metrics = settle(demo, collector_config)
        console.log(
            "agents stopped (each sealed its last days), the collector has written everything "
            "and checked every seal, rollups refreshed"
        )
        kept = poll_share(demo) or 0.0
        truth = ground_truth(demo)
        (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", "utf-8")
        console.log("ground truth of every machine-day read from the simulator")
        with Registry(out / "registry.sqlite") as registry:
            quarantined = len(registry.quarantine_list())
        # The bundles (PDF rendering takes most of it) and the web app's own evidence run at
        # the same time: each uses one core.
        console.log("evidence engine: retrofit-collector rollup (bundles: JSON, HTML, PDF) ...")
        rollup = demo.start_child("rollup", rollup_command(out, collector_config, demo.enterprises))
        login: DemoLogin | None = None
        web_lines: list[str] = []
        if not args.no_web:
            console.log("web app: retrofit-collector serve with a demo reviewer ...")
            login, web_lines = start_web(demo, collector_config, not args.no_screenshots)
        result = evidence_and_report(
            out=out,
            rollup=rollup,
            collector_config=collector_config,
            influx_url=demo.influx.url,
            enterprises=demo.enterprises,
            days=demo.days,
            truth=truth,
            facts={
                "windows_written": int(metrics.get("rv_ingest_written_records_total", 0)),
                "duplicates": int(metrics.get("rv_ingest_duplicates_total", 0)),
                "quarantined": quarantined,
                "polls_kept_pct": round(100 * kept),
            },
            screenshots=not args.no_screenshots,
            console=console,
            plan=out / "plan.xlsx",
            collector_key=collector_key,
        )
        console.rule(f"done in {time.monotonic() - started:.0f} s")
        for line in [*result.summary, *web_lines]:
            console.print(line)
        console.print(f"agents kept {100 * kept:.0f} % of the polls their interval asks for")
        if kept < POLLS_KEPT_GOAL:
            console.print(
                "[yellow]the machine was too busy for this plant speed[/yellow]: skipped polls "
                "and stalls show as comm loss and noisier state times (docs/demo.md); rerun "
                f"with --speed {mode.speed / 2:.0f} for cleaner data"
            )
        if args.serve and login is not None:
            serving = True
            console.print(
                f"the web app stays up at {login.url}/ (with InfluxDB and the registry) until "
                "Ctrl-C"
            )
            while True:
                time.sleep(3600)
        return 0 if result.ok else 1
    except Interrupted as stop:
        if serving:
            console.print("\nstopping the web app and everything else")
            return 0 if result.ok else 1
        console.print(f"\n{stop}: stopping everything the demo started")
        return 130
    finally:
        demo.stop_all()


if __name__ == "__main__":
    sys.exit(main())
