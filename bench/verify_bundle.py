"""Seconds for a reviewer to verify one enterprise bundle offline: the command vs its floor.

Setup (not measured): bench/evidence.py's plant (``plant_day``: 9 presses and the main meter
``meter-main`` of the example plan's ``ent-01``, 180 days; ``--quick``: 1 press and the meter x
44 days). Each device-day's minutes are folded into 24 hourly ``wire.KpiWindow`` (the same day
sums as 1,440 minute windows up to float order, and the verifier's work does not depend on the
window count: it checks seals, never windows), added to a ``contract.daysums.DayAccumulator``
and sealed as the agent's ledger would (``contract.wire.seal_day_seal``, one chain per device,
signed by a key generated here, which the plan copy written here lists for ``ent-01-gw1``). The
evidence document is the collector's engine on the sealed figures (``row_figures``: the
collector's substitution, each row's seal check equal); the bundle is written by the
collector's own ``collector.bundle.write_enterprise_bundle`` with the proof files the gather
would hand it, a collector signature and ``reports="none"``.

- ours: wall time of ``retrofit-verify-bundle DIR --plan PLAN`` as a subprocess, its imports
  included (numpy, scipy, statsmodels: a reviewer's cold start). Median of 3 runs; it must
  print ``verified`` and exit 0, or the bench fails.
- limit: the irreducible work, in this process after its imports: every seal's Ed25519
  verify, SHA-256 of every bundle file, and one ``enterprise_evidence`` on the same rows.
- ratio = ours / limit. Goal (issue 17): ours < 10 s for 10 devices x 180 days.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import common
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence import DIGEST, METER, ZONE, _days, _midnight, _presses, plant_day

from collector.bundle import EnterpriseProofs, write_enterprise_bundle
from collector.evidence import EnterpriseInputs, current_software, enterprise_evidence
from collector.evidence.document import DeviceDayDoc, PlanRefDoc
from collector.plan import LoadedPlan, load_plan
from collector.proof import BundleAgentKey, BundleDayCheck, bundle_day_seal, read_day_seals
from contract import daysums, wire

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
ENTERPRISE = "ent-01"
PLATFORM = "plat-a"
AGENT = "ent-01-gw1"
_QUALITY = wire.DataQuality(
    samples=60, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
    counter_resets=0, meter_resets=0, clock_jumps=0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Agent:
    agent_id: str
    public_key: str
    devices: tuple[str, ...]
    revoked: bool = False


def write_plan(path: Path, key: Ed25519PrivateKey, devices: list[str]) -> LoadedPlan:
    """The example plan with ``ent-01-gw1``'s key and devices replaced by the bench's."""
    text = PLAN.read_text(encoding="utf-8")
    head, tail = text.split(f"- id: {AGENT}\n", 1)
    key_line, devices_line, rest = tail.split("\n", 2)
    indent = key_line[: len(key_line) - len(key_line.lstrip())]
    key_line = f"{indent}public_key: {wire.public_key_text(key.public_key())}"
    devices_line = f"{indent}devices: [{', '.join(devices)}]"
    path.write_text(f"{head}- id: {AGENT}\n{key_line}\n{devices_line}\n{rest}", encoding="utf-8")
    return load_plan(path)


def _press_hour(device: str, start: datetime, minutes: list[tuple[bool, bool, int, int]]) -> (
    wire.KpiWindow
):  # fmt: skip
    planned = 60.0 * sum(m[0] for m in minutes)
    run = 60.0 * sum(m[1] for m in minutes)
    parts, rejects = sum(m[2] for m in minutes), sum(m[3] for m in minutes)
    return wire.KpiWindow(
        device=device, start=start, end=start + timedelta(hours=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=planned, planned_s=planned, run_s=run,
        idle_s=planned - run, down_s=0.0, off_s=3600.0 - planned, planned_stop_s=0.0,
        total_count=parts, good_count=parts - rejects, reject_count=rejects, energy_kwh=None,
        ideal_cycle_s=20.0, quality=_QUALITY,
    )  # fmt: skip


def _meter_hour(start: datetime, kwh: list[float]) -> wire.KpiWindow:
    return wire.KpiWindow(
        device=METER, start=start, end=start + timedelta(hours=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=0.0, planned_s=0.0, run_s=None, idle_s=None,
        down_s=None, off_s=None, planned_stop_s=None, total_count=None, good_count=None,
        reject_count=None, energy_kwh=sum(kwh), ideal_cycle_s=None, quality=_QUALITY,
    )  # fmt: skip


def day_windows(day: date, presses: list[str]) -> dict[str, list[wire.KpiWindow]]:
    """Each device's 24 hourly windows of ``day`` from the plant's minutes."""
    plant = plant_day(day, presses)
    midnight = _midnight(day)
    hours = [midnight + timedelta(hours=h) for h in range(24)]
    windows = {
        press: [_press_hour(press, hours[h], minutes[60 * h : 60 * h + 60]) for h in range(24)]
        for press, minutes in plant.presses.items()
    }
    windows[METER] = [
        _meter_hour(hours[h], plant.meter_kwh[60 * h : 60 * h + 60]) for h in range(24)
    ]
    return windows


def seal_plant(days: list[date], presses: list[str], key: Ed25519PrivateKey) -> list[bytes]:
    """The agent's seals of every device-day: one chain per device, in day order."""
    seq, raws = 0, []
    last: dict[str, tuple[int, str]] = {}
    sent = datetime(2026, 9, 1, tzinfo=UTC)
    for day in days:
        for device, windows in sorted(day_windows(day, presses).items()):
            accumulator = daysums.DayAccumulator()
            for window in windows:
                seq += 1
                accumulator.add(window, seq)
            index, prev = last.get(device, (0, None))
            seq += 1
            seal = wire.seal_day_seal(
                platform=PLATFORM, enterprise=ENTERPRISE, agent=AGENT, seq=seq, sent=sent,
                device=device, day=day, tz=ZONE.key, version=1, supersedes=None, index=index + 1,
                prev=prev, dropped_windows=0, parts=[daysums.part_from(accumulator)], key=key,
            )  # fmt: skip
            raw = wire.encode(seal)
            raws.append(raw)
            last[device] = (index + 1, wire.day_seal_sha256(raw))
    return raws


@dataclass(frozen=True, slots=True)
class _Check:
    """A row's seal check as the gather records an equal row (SealCheckRecord)."""

    agent_id: str
    device: str
    provenance: str
    day: date
    seal_sha256: str
    seal_version: int
    outcome: str = "sealed_equal"
    differences: tuple[()] = ()


def sealed_rows(raws: list[bytes]) -> list[tuple[DeviceDayDoc, _Check]]:
    """The device-days the collector feeds its engine for these seals (``row_figures``), each
    with its check: equal."""
    rows = []
    for raw in raws:
        seal, sha = wire.decode_day_seal(raw), wire.day_seal_sha256(raw)
        for part in seal.parts:
            figures = daysums.row_figures(part)
            values = {name: figures[name] for name in DeviceDayDoc.model_fields if name in figures}
            identity = {"agent": seal.agent, "device": seal.device, "day": seal.day}
            row = DeviceDayDoc(provenance=part.provenance, **identity, **values)
            check = _Check(seal.agent, seal.device, part.provenance, seal.day, sha, seal.version)
            rows.append((row, check))
    return rows


def _inputs(
    plan: LoadedPlan, rows: list[tuple[DeviceDayDoc, _Check]], key_text: str, devices: list[str]
) -> EnterpriseInputs:
    platform = next(p for p in plan.plan.platforms if p.id == PLATFORM)
    enterprise = next(e for e in platform.enterprises if e.id == ENTERPRISE)
    return EnterpriseInputs(
        plan=plan.plan,
        plan_ref=PlanRefDoc(key=plan.plan.key, version=1, digest=plan.digest),
        platform=platform,
        enterprise=enterprise,
        rows=tuple(row for row, _ in rows),
        agents=(_Agent(AGENT, key_text, tuple(devices)),),
        seal_checks=tuple(check for _, check in rows),
    )


def _proofs(
    raws: list[bytes], rows: list[tuple[DeviceDayDoc, _Check]], key_text: str, devices: list[str]
) -> EnterpriseProofs:
    """The proof files as the gather hands them to the bundle writer."""
    added = datetime(2026, 1, 5, tzinfo=UTC)
    agent = BundleAgentKey(agent=AGENT, public_key=key_text, devices=sorted(devices),
                           added_at=added, revoked_at=None)  # fmt: skip
    checks = [
        BundleDayCheck(agent=c.agent_id, device=c.device, provenance=row.provenance, day=c.day,
                       outcome="sealed_equal", seal_sha256=c.seal_sha256, differences=[],
                       root_checked=False)
        for row, c in rows
    ]  # fmt: skip
    seals = tuple(bundle_day_seal(raw) for raw in raws)
    return EnterpriseProofs(ENTERPRISE, seals, (agent,), tuple(checks))


def limit_seconds(folder: Path, inputs: EnterpriseInputs, agent_key: str) -> float:
    """The floor: every seal's signature, SHA-256 of every file, the evidence once."""
    key = wire.public_key_from_text(agent_key)
    started = time.perf_counter()
    for path in sorted(folder.iterdir()):
        hashlib.sha256(path.read_bytes()).hexdigest()
    for line in read_day_seals((folder / "day-seals.jsonl").read_bytes()):
        wire.verify(line.seal, key)
    enterprise_evidence(inputs, software=current_software(), seed=7)
    return time.perf_counter() - started


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_verifier(folder: Path, plan: Path) -> tuple[float, float]:
    """One run of the command as a subprocess: (wall, CPU) seconds; fails unless ``verified``.

    CPU (user + system of the child) is printed beside the wall time because the machine is
    shared: under load the wall time is the CPU time stretched by the queue for the cores.
    """
    command = [sys.executable, "-m", "collector.verify.cli", str(folder), "--plan", str(plan)]
    cpu_before, started = _children_cpu_s(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    elapsed, cpu = time.perf_counter() - started, _children_cpu_s() - cpu_before
    if result.returncode != 0 or not result.stdout.rstrip().endswith("verified"):
        raise SystemExit(f"the verifier did not verify:\n{result.stdout}\n{result.stderr}")
    return elapsed, cpu


def measure(workdir: Path, quick: bool) -> None:
    """Build the bundle, time the command and the floor, print the result line."""
    days = _days(quick)
    presses = _presses(2 if quick else 10)
    devices = [*presses, METER]
    agent_key, collector_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    random.seed(17)
    started = time.perf_counter()
    plan = write_plan(workdir / "plan.yaml", agent_key, devices)
    raws = seal_plant(days, presses, agent_key)
    rows = sealed_rows(raws)
    key_text = wire.public_key_text(agent_key.public_key())
    inputs = _inputs(plan, rows, key_text, devices)
    document = enterprise_evidence(inputs, software=current_software(), seed=7)
    folder = workdir / ENTERPRISE
    write_enterprise_bundle(
        document, folder, reports="none", signer=collector_key,
        proofs=_proofs(raws, rows, key_text, devices),
    )  # fmt: skip
    size_mb = sum(path.stat().st_size for path in folder.iterdir()) / 1e6
    print(f"setup: {len(raws)} seals ({len(devices)} devices x {len(days)} days), bundle "
          f"{size_mb:.1f} MB, {time.perf_counter() - started:.1f} s")  # fmt: skip
    limit = min(limit_seconds(folder, inputs, key_text) for _ in range(3))
    runs = [run_verifier(folder, workdir / "plan.yaml") for _ in range(3)]
    ours = statistics.median(wall for wall, _ in runs)
    ours_cpu = statistics.median(cpu for _, cpu in runs)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("ours runs (wall/CPU): " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs)
          + f" s; limit {limit:.2f} s (best of 3)")  # fmt: skip
    print(f"load average after: {common.load_average()}")
    print(
        common.result_line(
            "verify_bundle", ours / limit, f"{ours:.2f}s", f"{limit:.2f}s", "ours<10s",
            ours_cpu=f"{ours_cpu:.2f}s", rss_mb=f"{rss:.0f}", ratio_means="ours/limit",
        )
    )  # fmt: skip


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 devices x 44 days")
    args = parser.parse_args()
    print(f"verify_bundle: {common.machine_summary()}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        started = time.perf_counter()
        measure(Path(tmp), args.quick)
        print(f"{time.perf_counter() - started:.2f} s wall")


if __name__ == "__main__":
    main()
