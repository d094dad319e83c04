"""The whole path end to end, through the demo: simulator → agents → broker → collector →
InfluxDB → evidence engine, with verdicts that match what the simulated retrofits did.

``deploy/local/demo.py --quick`` runs as a real process, starting everything it needs: three
enterprises, each with its own agent process, key and three machines (Modbus TCP and OPC UA;
ent-01's weld on an S7 PLC; ent-03's machines seen only through a power meter and a DI module,
their state inferred), four weeks of baseline and four of reporting on a 50,000x plant clock
(sim/scenario.py):

- ent-01 improves past its targets (OEE +5 pp, defect rate −20 %): it must pass;
- ent-02 changes nothing: it must not pass (fail); its press's ideal cycle is set too long in
  its agent's configuration, so the press "beats" it every day: flagged for the reviewer;
- ent-03 improves but its gateway goes off six days into the reporting period: insufficient data
  (its agent is retired then, `retrofit-agent retire`, so its last day is sealed).

Every bundle is then verified offline by `retrofit-verify-bundle` against the demo's plan, the
collector's bundle key pinned by its fingerprint: each must say `verified`.

The agents' daily sums in InfluxDB are also checked against the simulator's exact ground truth,
and every Grafana panel's query (dashboards/) against the InfluxDB the run filled.
A second test interrupts the demo (SIGINT, as Ctrl-C) and checks nothing it started survives.

The plant clock is wall time: on a machine so busy that the agents keep fewer than
MIN_POLLS_KEPT_PCT of their polls (other jobs on the 2 cores), the data are too thin to judge
the verdicts by (the demo prints a warning). The first test then runs the demo again at a fifth
of the speed, where the agents have five times the wall time per poll, and judges that run.
It does the same when a run that lost polls flagged an honest enterprise
`count_faster_than_ideal`: at 50,000x a wall millisecond of scheduling is 50 plant seconds, and
a CI run that kept 94 % of its polls (2026-12-07) saw the simulated plant and the agent drift
apart on one day (ent-01-cnc 2026-04-10: 578 parts × 81 s against 40,725 s of run time plus
2,762 s unsampled, performance 1.08). The slower run is judged by every assertion, that one
included, so a flag the data really raise fails the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from collector.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "local" / "demo.py"

pytestmark = pytest.mark.slow

#: Below this share of polls the run measured the machine's load, not the plant (docs/demo.md).
MIN_POLLS_KEPT_PCT = 60


def _run_demo(out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DEMO), "--quick", "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )


def _processes_using(path: Path) -> list[str]:
    """Command lines of live processes that name ``path`` (the demo's children all do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(path) in command and state != "Z":
            found.append(command)
    return found


#: The quick mode's plant clock (deploy/local/demo.py QUICK), and the one of the rerun.
QUICK_SPEED, SLOW_SPEED = 50_000, 20_000


#: The enterprises whose machines count exactly at their ideal cycle or slower.
HONEST = ("ent-01", "ent-03")


def _drifted(result: dict[str, Any]) -> bool:
    """True when a run that lost polls flagged an honest enterprise as counting too fast."""
    flagged = any(
        "count_faster_than_ideal" in e["flags"] for e in result["enterprises"] if e["id"] in HONEST
    )
    return flagged and result["path"]["polls_kept_pct"] < 100


def _judged_run(out: Path) -> tuple[subprocess.Popen[str], str, dict[str, Any]]:
    """The quick demo; again at SLOW_SPEED if the machine was too busy to keep the polls."""
    for speed in (QUICK_SPEED, SLOW_SPEED):
        demo = _run_demo(out, "--no-screenshots", "--no-web", "--speed", str(speed))
        output, _ = demo.communicate(timeout=900)
        verdicts = out / "verdicts.json"
        # A run that stopped before judging says why; one that judged but missed (a busy
        # machine's thin data) is judged by its share of polls kept, and the test's asserts.
        assert verdicts.exists(), f"exit {demo.returncode}, no verdicts.json:\n{output}"
        result = json.loads(verdicts.read_text("utf-8"))
        if result["path"]["polls_kept_pct"] >= MIN_POLLS_KEPT_PCT and not _drifted(result):
            break
        out = out.with_name(out.name + "-slow")
    kept = result["path"]["polls_kept_pct"]
    assert kept >= MIN_POLLS_KEPT_PCT, f"agents kept {kept} % of their polls even at {speed}x"
    return demo, output, result


@pytest.mark.timeout(1500)
def test_verdicts_match_the_simulated_retrofits(tmp_path: Path) -> None:
    demo, output, result = _judged_run(tmp_path / "demo")
    assert demo.returncode == 0, output
    status = {e["id"]: e["status"] for e in result["enterprises"]}
    assert status["ent-01"] == "pass", output
    assert status["ent-02"] == "fail", output
    assert status["ent-03"] == "insufficient_data", output
    # The reviewer's offline verifier on every bundle, against the demo's plan with the bundle
    # key pinned: every one honest, so every one verified (issue 17). ent-03's gateway was
    # retired and the others stopped cleanly after the last day: no device-day left unsealed.
    verification = result["verification"]
    assert "--collector-key SHA256:" in verification["command"], verification
    verdicts = {b["enterprise"]: b["result"] for b in verification["bundles"]}
    assert {"ent-01", "ent-02", "ent-03", "plat-a"} <= set(verdicts), verdicts
    assert set(verdicts.values()) == {"verified"}, verification["bundles"]
    assert verification["ok"] and verification["exit_code"] == 0
    for enterprise in ("ent-01", "ent-02", "ent-03"):
        flags = next(e for e in result["enterprises"] if e["id"] == enterprise)["flags"]
        assert "device_days_unsealed" not in flags, (enterprise, flags)
    offline = next(e for e in result["enterprises"] if e["id"] == "ent-03")
    assert all("too_few_usable_days" in k["reasons"] for k in offline["kpis"])
    improved = next(e for e in result["enterprises"] if e["id"] == "ent-01")
    oee = next(k for k in improved["kpis"] if k["kpi"] == "oee")
    assert oee["interval"][0] >= 5.0  # the conservative bound clears the +5 pp target
    assert result["path"]["quarantined"] == 0 and result["path"]["windows_written"] > 5000
    # The plan was loaded as the workbook the demo exported (docs/plan-workbook.md).
    runs = list(tmp_path.glob("demo*/registry.sqlite"))  # "demo-slow" too after a rerun
    assert runs
    for run in runs:
        with Registry(run) as registry:
            (key,) = registry.plan_keys()
            assert registry.plan_version(key, None).info.source_name.endswith("plan.xlsx")
    assert result["platform"]["passed_count"] == 1 and not result["platform"]["minimum_met"]
    unchanged = next(e for e in result["enterprises"] if e["id"] == "ent-02")
    assert "count_faster_than_ideal" in unchanged["flags"], output
    # Only the deliberate slip: honest devices, comm loss and slow polls included, raise no
    # fraud flag (issue #16 point 5; docs/evidence-method.md §10).
    for honest in HONEST:
        flags = next(e for e in result["enterprises"] if e["id"] == honest)["flags"]
        assert "count_faster_than_ideal" not in flags, (honest, flags, output)
    # Every panel, annotation and variable of the three dashboards returns data.
    assert result["dashboards"]["ok"], result["dashboards"]["result"]
    # The agents' daily sums against the simulator's exact ground truth (docs/demo.md), in
    # one row per way of reading: state codes over Modbus TCP and OPC UA, the S7 machine's
    # data block, and the retrofit enterprise's inferred states (its days before it went
    # offline). Counters and the energy meters are differences, so only a day's edges move a
    # few parts; state times are sampled every 10 plant minutes.
    accuracy = result["accuracy"]
    assert set(accuracy) == {"controller", "s7", "retrofit"}, accuracy
    for kind, rows in accuracy.items():
        assert "down_s" not in rows if kind == "retrofit" else "down_s" in rows, (kind, rows)
        for name in ("total_count", "reject_count", "energy_kwh"):
            assert abs(rows[name]["bias_pct"]) < 1.0, (kind, name, rows[name])
    for name in ("run_s", "planned_s"):
        rows = accuracy["controller"]
        assert abs(rows[name]["bias_pct"]) < 3.0, (name, rows[name])
    # The inferred states are sampled alike (docs/kpi.md, "Dwell"): a dwell that asked for a
    # second 10-minute poll dropped the short idle spells, idle -27.85 % (-34.4 % at 20,000x;
    # issue #18); since, +0.9 % on a quiet machine, -2.3 % and +4.4 % under load 7-8, and one
    # loaded run beyond 8 %. Loose on purpose: three devices whose polls hold a fixed phase
    # against the shift edges, and polls skipped under load, move it several %; the method's
    # bias is tests/agent/test_inference_long_polls.py's to catch. Run time is not held: it
    # moved only +1.5 to +4.5 % with the bias, -4.2 % without it under load.
    retrofit = accuracy["retrofit"]
    assert abs(retrofit["idle_s"]["bias_pct"]) < 15.0, retrofit["idle_s"]
    assert _processes_using(tmp_path) == []


@pytest.mark.timeout(120)
def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    demo = _run_demo(out, "--no-screenshots")
    assert demo.stdout is not None
    deadline = time.monotonic() + 60
    for line in demo.stdout:
        if "ready in" in line or time.monotonic() > deadline:
            break
    time.sleep(2.0)  # the plant runs: agents poll, windows flow
    children = _processes_using(out)
    assert any("retrofit-agent run" in c for c in children), children
    assert any("mosquitto" in c for c in children) and any("influxd" in c for c in children)
    demo.send_signal(signal.SIGINT)
    output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, output
    assert "stopping everything the demo started" in output
    assert _processes_using(out) == []
