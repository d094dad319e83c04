"""The pipeline the tests share: real agents → mosquitto → ingest → InfluxDB and the registry →
bundles → ``retrofit-verify-bundle``, with §4 A's faults on the way (issue 17).

Every piece is the real one, as a child process: mosquitto and influxd (``stack``), the plant
simulator serving the demo's first three enterprises (``sim.scenario``: Modbus TCP, an S7 PLC,
OPC UA, and a retrofit kit whose agent infers the state), one ``retrofit-agent run`` per
enterprise with its own key (tests/agent/faults/conftest.py's process wrappers), Asia/Shanghai
days and a one-minute ``seal_grace_s``, and one ``retrofit-collector ingest`` replica (its
rollups, and the seal check after each refresh). The plan is ``sim.scenario``'s, with the
agents' public keys.

**Which days.** The programme's rules want periods of at least 28 days
(collector/plan/rules.py), and a bundle's evidence runs from the baseline's first day to the
reporting period's last: a day inside it that an agent is still measuring would be unsealed.
So the plant clock runs at 2,880x (a plant day in 30 wall seconds) over the reporting period's
last days (:data:`RUN_DAYS`: Monday from the agents' start, then Tuesday to Thursday whole)
and on into Friday, where the agents keep running while the last evidence day closes and is
sealed by the usual rule (its end plus the grace), as a gateway in the field would. The
baseline's last two days come from before the retrofit, as a pilot's baseline often does: the
MES's hour reports of ent-02's weld imported with ``retrofit-agent import``
(:data:`BASELINE_IMPORT`), sealed as imported parts.

**The faults** (plant time, Asia/Shanghai), each on its own agent or day:

- ent-01's agent is SIGKILLed at 23:50 on Tuesday and started again after midnight
  (:data:`KILLED`);
- the broker is stopped from 23:00 on Wednesday to 01:30 on Thursday (:data:`BROKER_DOWN`):
  the day's last windows and its seals wait in the outboxes;
- once ent-02's press has sealed Monday, the MES's hour report of Monday before the agent's
  first window is imported with ``retrofit-agent import`` (:data:`IMPORTED`): the day's
  version 2, with an imported part.

Then ``retrofit-collector evidence --platform`` writes the platform's bundles, signed with a
key from ``retrofit-collector bundle-key generate``. Helpers here only start, stop, wait and
run commands; the tests say what must hold.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from agent.keys import generate_key_pair
from collector.plan import load_plan
from collector.registry import DayCheck, DaySealEntry, Registry
from sim.plant import PlantConfig
from sim.scenario import (
    AgentSettings,
    DemoEnterprise,
    Timeline,
    agent_document,
    demo_enterprises,
    plan_document,
    plant_document,
)
from stack import InfluxServer, MosquittoServer, free_port
from tests.agent.faults.conftest import (
    AgentProcess,
    PlantClock,
    SimProcess,
    import_mes_hours,
    wait_for,
    write_mes_hours,
)
from tests.collector.faults.harness import IngestProcess, wait_until

__all__ = [
    "BASELINE_IMPORT",
    "BROKER_DOWN",
    "IMPORTED",
    "KILLED",
    "PLATFORM",
    "RUN_DAYS",
    "TIMELINE",
    "Pipeline",
    "VerifierRun",
    "running_pipeline",
]

BIN = Path(sys.executable).parent
ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
PLATFORM = "plat-a"
SPEED = 2880.0
GRACE_S = 60
#: Every 10 plant minutes (0.2 wall s), hourly windows: the demo's reading, lighter on a busy CI.
SETTINGS = AgentSettings(poll_interval_s=600, window_s=3600, comm_loss_after_s=21_600)

#: Baseline 2026-02-05..03-04, go-live 03-05, reporting 03-06..04-02 (28 days each, the
#: shortest the plan's OEE and defect-rate targets allow). The plant clock reads Monday 03-30
#: 20:00 at its anchor, which is :data:`STARTUP_S` wall seconds after the processes start: the
#: agents (8-15 s to start on a loaded machine) poll from some time on Monday, up to 20 plant
#: hours before the anchor, and the plant runs on into Friday 04-03.
TIMELINE = Timeline(
    plant_start=dt.datetime(2026, 3, 30, 20, 0, tzinfo=ZONE),
    baseline=(dt.date(2026, 2, 5), dt.date(2026, 3, 4)),
    go_live=dt.date(2026, 3, 5),
    reporting=(dt.date(2026, 3, 6), dt.date(2026, 4, 2)),
    plant_end=dt.datetime(2026, 4, 3, 0, 30, tzinfo=ZONE),
)
STARTUP_S = 25.0
#: The first evidence day (its hours from the agent's start on) and the whole ones after it,
#: the reporting period's last three.
FIRST_DAY = dt.date(2026, 3, 30)
WHOLE_DAYS = (dt.date(2026, 3, 31), dt.date(2026, 4, 1), dt.date(2026, 4, 2))
RUN_DAYS = (FIRST_DAY, *WHOLE_DAYS)
#: (enterprise, killed at, started again at): its agent SIGKILLed across a midnight.
KILLED = (
    "ent-01",
    dt.datetime(2026, 3, 31, 23, 50, tzinfo=ZONE),
    dt.datetime(2026, 4, 1, 0, 10, tzinfo=ZONE),
)
#: (stopped at, started at): the broker down across the next midnight.
BROKER_DOWN = (
    dt.datetime(2026, 4, 1, 23, 0, tzinfo=ZONE),
    dt.datetime(2026, 4, 2, 1, 30, tzinfo=ZONE),
)
#: (enterprise, device, day): the MES hours before its agent's first window imported into
#: the first day once that day is sealed.
IMPORTED = ("ent-02", "ent-02-press", FIRST_DAY)
#: (enterprise, device, days): the baseline days whose MES hour reports (all 24) are imported.
BASELINE_IMPORT = ("ent-02", "ent-02-weld", (dt.date(2026, 3, 3), dt.date(2026, 3, 4)))
#: Wall seconds from the processes' start to every evidence day checked: 77 plant hours
#: after the anchor are 96 wall seconds; the rest is room for a loaded machine.
SEALED_WITHIN_S = 300.0


@dataclass(frozen=True)
class VerifierRun:
    """One ``retrofit-verify-bundle --json`` run: exit code and the parsed result."""

    exit_code: int
    result: dict[str, Any]
    output: str

    def reports(self) -> list[dict[str, Any]]:
        """Each bundle's report (one for an enterprise folder, several for a platform's)."""
        bundles: list[dict[str, Any]] = self.result.get("bundles", [self.result])
        return bundles

    def findings(self) -> list[dict[str, Any]]:
        """Every finding of every report."""
        return [finding for report in self.reports() for finding in report["findings"]]


@dataclass
class Pipeline:
    """The running (then stopped) pipeline's servers, files and what the faults left."""

    folder: Path
    enterprises: list[DemoEnterprise]
    plan_path: Path
    registry_path: Path
    collector_config: dict[str, Any]
    collector_config_path: Path
    influx: InfluxServer
    bundle_key_fingerprint: str
    agents: dict[str, AgentProcess] = field(default_factory=dict)
    #: enterprise id -> its agent's configuration file.
    agent_configs: dict[str, Path] = field(default_factory=dict)
    #: The platform bundle built once every evidence day was sealed and checked.
    bundles: Path = Path()
    #: Hours (from midnight) of :data:`IMPORTED`'s day the MES import brought.
    imported_hours: int = 0
    #: enterprise id -> the registry's outcomes of its rows over the evidence's days once all
    #: were equal, before the bundles were built: the ingest's full checks (an evidence
    #: gather then records its sums-only ones, and a tamper test others).
    checks: dict[str, list[DayCheck]] = field(default_factory=dict)

    def evidence(self, out: Path) -> subprocess.CompletedProcess[str]:
        """``retrofit-collector evidence --platform`` into ``out`` (no rendered reports);
        fails the test unless it exits 0."""
        done = _collector(
            "evidence", "--platform", PLATFORM, "--out", str(out), "--reports", "none",
            "--config", str(self.collector_config_path),
        )  # fmt: skip
        assert done.returncode == 0, f"evidence failed:\n{done.stdout}{done.stderr}"
        return done

    def verify(self, folder: Path, *, collector_key: str | None = None) -> VerifierRun:
        """``retrofit-verify-bundle FOLDER --plan PLAN --json`` as a subprocess, pinned to the
        bundle key unless ``collector_key`` names another."""
        pin = collector_key or self.bundle_key_fingerprint
        done = subprocess.run(
            [str(BIN / "retrofit-verify-bundle"), str(folder), "--plan", str(self.plan_path),
             "--collector-key", pin, "--json"],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        try:
            result: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            result = {}
        return VerifierRun(done.returncode, result, done.stdout + done.stderr)

    def day_checks(self, enterprise: str) -> list[DayCheck]:
        """The registry's outcomes of ``enterprise``'s rows over the evidence's days."""
        with Registry(self.registry_path) as registry:
            return registry.day_checks(enterprise, TIMELINE.baseline[0], TIMELINE.reporting[1])

    def seal_chain(self, agent: str, device: str) -> list[DaySealEntry]:
        """Every seal of ``agent``'s ``device`` the registry holds, in chain order."""
        with Registry(self.registry_path) as registry:
            return registry.day_seal_chain(agent, device)


def _collector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "retrofit-collector"), *args],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def expected_rows(enterprise: DemoEnterprise) -> set[tuple[str, dt.date, str]]:
    """(device, day, provenance) of every row the run leaves ``enterprise`` on its run days."""
    rows = {(device, day, "measured") for device in enterprise.machine_ids for day in RUN_DAYS}
    if enterprise.id == IMPORTED[0]:
        rows.add((IMPORTED[1], IMPORTED[2], "imported"))
    if enterprise.id == BASELINE_IMPORT[0]:
        rows |= {(BASELINE_IMPORT[1], day, "imported") for day in BASELINE_IMPORT[2]}
    return rows


def _checked_equal(pipeline: Pipeline) -> bool:
    """True once every expected row of every enterprise is ``sealed_equal`` (and the imported
    day's check is against its version 2). Fails at once, with its log, if an agent died: its
    days could only time out (a CI run waited 300 s on an agent that never started)."""
    for enterprise_id, agent in pipeline.agents.items():
        assert agent.is_running, f"{enterprise_id}'s agent exited:\n{agent.run_log()[-3000:]}"
    for enterprise in pipeline.enterprises:
        outcomes = {
            (c.device, c.day, c.provenance): c.outcome for c in pipeline.day_checks(enterprise.id)
        }
        expected = expected_rows(enterprise)
        if not expected <= set(outcomes) or any(outcomes[k] != "sealed_equal" for k in expected):
            return False
    return True


def _what_is_checked(pipeline: Pipeline) -> str:
    lines = []
    for enterprise in pipeline.enterprises:
        for check in pipeline.day_checks(enterprise.id):
            fields = ",".join(d.field for d in check.differences)
            lines.append(
                f"{check.agent_id} {check.device} {check.day} {check.provenance}: "
                f"{check.outcome} {fields}"
            )
    return "\n".join(lines) or "no day checks at all"


def _start_servers(stack: ExitStack, folder: Path) -> tuple[MosquittoServer, InfluxServer]:
    broker = MosquittoServer(folder / "mosquitto")
    stack.callback(broker.stop)
    broker.start()
    influx = InfluxServer(folder / "influxd")
    stack.callback(influx.stop)
    influx.start()
    influx.create_database("rv")
    return broker, influx


def _bundle_key(folder: Path) -> tuple[Path, str]:
    """``retrofit-collector bundle-key generate``: the key's path and printed fingerprint."""
    path = folder / "bundle.key"
    done = _collector("bundle-key", "generate", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    printed = re.search(r"SHA256:[A-Za-z0-9+/]+", done.stdout)
    assert printed, f"no fingerprint in: {done.stdout}"
    return path, printed.group(0)


def _write_plan(folder: Path, enterprises: list[DemoEnterprise]) -> tuple[Path, Path]:
    """Each agent's key pair and the plan listing their public keys, loaded into the registry."""
    keys = {
        e.agent_id: generate_key_pair(folder / "agents" / e.id / "agent.key") for e in enterprises
    }
    document = plan_document(enterprises, TIMELINE, keys, listed=10, with_energy=False)
    plan_path = folder / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    registry_path = folder / "registry.sqlite"
    with Registry(registry_path) as registry:
        registry.load_plan(load_plan(plan_path), by="pipeline test")
    return plan_path, registry_path


def _collector_config(
    folder: Path, registry: Path, broker: MosquittoServer, influx: InfluxServer, key: Path
) -> dict[str, Any]:
    return {
        "registry": str(registry),
        "broker": {"host": broker.host, "port": broker.port, "group": "collectors"},
        "influx": {"url": influx.url, "database": "rv", "timeout_s": 5.0},
        "ingest": {"inflight": 64, "flush_after_s": 0.05},
        "bundle": {"signing_key_path": str(key)},
        "web": {"evidence_dir": str(folder / "web-evidence"), "cookie_secure": False},
    }


def _start_agents(
    stack: ExitStack,
    pipeline: Pipeline,
    sim: SimProcess,
    broker: MosquittoServer,
    clock: PlantClock,
    plant: PlantConfig,
) -> None:
    for enterprise in pipeline.enterprises:
        workdir = pipeline.folder / "agents" / enterprise.id
        document = agent_document(
            enterprise,
            plant,
            modbus=(sim.modbus_host, sim.modbus_port),
            opcua_endpoint=sim.opcua_endpoint,
            s7=(sim.modbus_host, sim.s7_port or 0),
            broker=(broker.host, broker.port),
            clock=clock.config(),
            paths={"key": str(workdir / "agent.key"), "outbox": str(workdir / "outbox.sqlite")},
            settings=SETTINGS,
        )
        document["agent"].update(timezone=ZONE_NAME, seal_grace_s=GRACE_S)
        path = workdir / "agent.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
        agent = AgentProcess(path, metrics_port=free_port())
        stack.callback(agent.terminate)
        agent.start()
        pipeline.agents[enterprise.id] = agent
        pipeline.agent_configs[enterprise.id] = path


def _sleep_until(clock: PlantClock, moment: dt.datetime, what: str) -> None:
    """Block until plant time ``moment``; fail if the run is already past it (too slow)."""
    assert clock.now() < moment.timestamp(), (
        f"the plant clock passed {moment:%Y-%m-%d %H:%M} before {what}: the machine is too busy"
    )
    clock.sleep_until(moment.timestamp())


def _import_when_sealed(pipeline: Pipeline) -> None:
    """Once the imported day's version 1 is in the registry, import the MES hours of that day
    before the agent's first window (its measured part's ``first_start``)."""
    enterprise, device, day = IMPORTED
    agent = next(e.agent_id for e in pipeline.enterprises if e.id == enterprise)

    def version_1() -> DaySealEntry | None:
        return next((s for s in pipeline.seal_chain(agent, device) if s.day == day), None)

    wait_for(lambda: version_1() is not None, 90, f"{device}'s seal of {day}", poll_s=0.2)
    sealed = version_1()
    assert sealed is not None
    [measured] = sealed.message().parts
    first_hour = measured.first_start.astimezone(ZONE).hour
    assert first_hour > 0, f"{device} measured from {measured.first_start}: no hour to import"
    report = write_mes_hours(pipeline.folder / "mes-hours.csv", day, range(first_hour))
    imported = import_mes_hours(pipeline.agent_configs[enterprise], report, device)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    pipeline.imported_hours = first_hour


def _import_baseline(pipeline: Pipeline) -> None:
    """The MES hour reports of :data:`BASELINE_IMPORT`'s days, every hour."""
    enterprise, device, (first, *more) = BASELINE_IMPORT
    report = write_mes_hours(pipeline.folder / "mes-baseline.csv", first, range(24), *more)
    imported = import_mes_hours(pipeline.agent_configs[enterprise], report, device)
    assert imported.returncode == 0, imported.stdout + imported.stderr


def _import_both(pipeline: Pipeline) -> None:
    _import_when_sealed(pipeline)
    _import_baseline(pipeline)


def _play_faults(pipeline: Pipeline, broker: MosquittoServer, clock: PlantClock) -> None:
    # The imports wait for a seal and take wall seconds each (a CLI's start on a loaded
    # machine): in a thread, so the kill and the outage keep their plant times.
    with ThreadPoolExecutor(1, thread_name_prefix="imports") as imports:
        imported = imports.submit(_import_both, pipeline)
        enterprise, killed_at, back_at = KILLED
        _sleep_until(clock, killed_at, f"killing {enterprise}'s agent")
        pipeline.agents[enterprise].kill()
        clock.sleep_until(back_at.timestamp())
        pipeline.agents[enterprise].start()
        down_at, up_at = BROKER_DOWN
        _sleep_until(clock, down_at, "stopping the broker")
        broker.stop()
        clock.sleep_until(up_at.timestamp())
        broker.start()
        imported.result(timeout=120)  # raises what failed in the thread


@contextmanager
def running_pipeline(folder: Path) -> Iterator[Pipeline]:
    """Run the pipeline to every evidence day sealed and checked, build the platform's
    bundles; yield it with influxd still up (the web app and a re-built bundle read it) and
    the agents, simulator and ingest stopped; stop everything at exit."""
    enterprises = demo_enterprises(3)
    with ExitStack() as stack:
        broker, influx = _start_servers(stack, folder)
        plan_path, registry_path = _write_plan(folder, enterprises)
        key_path, fingerprint = _bundle_key(folder)
        config = _collector_config(folder, registry_path, broker, influx, key_path)
        config_path = folder / "collector.yaml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        pipeline = Pipeline(
            folder, enterprises, plan_path, registry_path, config, config_path, influx,
            fingerprint,
        )  # fmt: skip
        ingest = IngestProcess(config_path, "collector-1", folder / "ingest.log")
        stack.callback(ingest.stop)
        ingest.start()

        clock = PlantClock(
            SPEED, start=TIMELINE.plant_start.astimezone(dt.UTC), anchor=time.time() + STARTUP_S
        )
        plant = plant_document(enterprises, TIMELINE)
        sim = SimProcess(folder / "sim", clock, plant["machines"])
        stack.callback(sim.stop)
        sim.start()
        _start_agents(stack, pipeline, sim, broker, clock, PlantConfig.model_validate(plant))
        _play_faults(pipeline, broker, clock)
        wait_until(
            lambda: _checked_equal(pipeline),
            SEALED_WITHIN_S,
            "every evidence day sealed and checked equal",
            lambda: "\n" + _what_is_checked(pipeline),
        )
        for agent in pipeline.agents.values():
            assert agent.stop() == 0, agent.run_log()[-3000:]
        sim.stop()
        ingest.stop()
        pipeline.bundles = folder / "bundles"
        pipeline.checks = {e.id: pipeline.day_checks(e.id) for e in enterprises}
        pipeline.evidence(pipeline.bundles)
        yield pipeline
