"""Seconds to one enterprise's evidence from InfluxDB: through the daily rollups vs every window.

Setup: a real influxd (``stack``) and a registry with the example plan; enterprise ``ent-01``
with 10 devices x 180 days of 60-s windows (2,592,000 windows): 9 presses that count parts and
the main meter ``meter-main`` that measures the plant's energy (the example plan's energy
target is on the facility boundary). ``--quick``: 1 press and the meter x 44 days.

Loading is setup, not what is measured, and is made fast: the windows' line protocol is built
from templates that the store's own encoder (``collector.store.records.window_line``) renders,
checked line for line against validated ``wire.KpiWindow`` objects through that encoder for the
first day; a day's lines go to ``/write`` through ``InfluxStore.write_lines`` with several
requests in flight; the daily rollups are computed once at the end
(``InfluxStore.refresh_days``), as a repair after a bulk import would.

- ours: ``collector.bundle.build_enterprise_evidence``: the registry, the ``kpi_daily`` rows
  of the enterprise's periods, the whole evidence document (bootstrap, HAC, effective days,
  energy model, flags). Median of 3 runs, after one warm-up.
- limit (naive): the same document from every raw window: ``InfluxStore.windows`` in chunks
  of 10 days per device, daily sums in Python, then the same assembly. One run.
- ratio = naive / ours (the brief's goal: ours <= 2 s and ratio >= 20). Both documents must
  give the same verdicts, or the bench fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import common

from collector.bundle import build_enterprise_evidence, gather_enterprise
from collector.evidence import current_software, enterprise_evidence
from collector.evidence.document import EnterpriseEvidence
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import DailyRow, InfluxStore, WindowRecord
from collector.store.records import to_ms, window_line
from collector.store.rollup import DayKey, day_of
from contract import quantities, wire
from stack import InfluxServer

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-01", "ent-01-gw1"
TZ_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(TZ_NAME)
FIRST_DAY = date(2026, 2, 2)  # the example plan's baseline starts here; reporting 2026-06-01
GO_LIVE = date(2026, 5, 6)
DIGEST = wire.config_digest(b"bench agent.yaml")
METER = "meter-main"
CHUNK_DAYS = 10
IN_FLIGHT = 4  # /write requests in flight while loading
_SUMMED = quantities.SUMMED_FIELDS
_QUALITY = tuple(q.name for q in quantities.QUALITY_QUANTITIES)
_INTEGER_SUMS = frozenset(
    {"windows"}
    | {
        q.name
        for q in (*quantities.BASE_QUANTITIES, *quantities.QUALITY_QUANTITIES)
        if q.kind == "integer"
    }
)
_QUALITY_VALUES: dict[str, Any] = {
    "samples": 60, "missed_polls": 0, "bad_values": 0, "comm_loss_s": 0.0,
    "scheduled_comm_loss_s": 0.0, "counter_resets": 0, "meter_resets": 0, "clock_jumps": 0,
}  # fmt: skip


def _days(quick: bool) -> list[date]:
    if not quick:
        return [FIRST_DAY + timedelta(days=n) for n in range(180)]
    baseline = [FIRST_DAY + timedelta(days=n) for n in range(22)]
    return baseline + [date(2026, 6, 1) + timedelta(days=n) for n in range(22)]


def _presses(devices: int) -> list[str]:
    return [f"press-{n:02d}" for n in range(1, devices)]


# --- the plant: what each minute holds ---------------------------------------------------


#: A press minute: (planned, running, parts, rejects). Off shift, idle, running (± a reject).
PressMinute = tuple[bool, bool, int, int]
_OFF: PressMinute = (False, False, 0, 0)
_IDLE: PressMinute = (True, False, 0, 0)
_RUN: PressMinute = (True, True, 2, 0)
_RUN_REJECT: PressMinute = (True, True, 2, 1)


@dataclass(frozen=True, slots=True)
class PlantDay:
    """One local day of the plant: each press's minutes, the main meter's kWh per minute."""

    day: date
    presses: dict[str, list[PressMinute]]
    meter_kwh: list[float]


def plant_day(day: date, presses: Sequence[str]) -> PlantDay:
    """A two-shift day (06:00-22:00 planned): each press runs a planned minute with probability
    75 % (80 % after go-live) +- 4 pp per press-day, 2 parts a running minute, a reject now and
    then; the main meter takes 0.5 kWh a minute of base load plus 0.02 kWh a part."""
    rng = random.Random(f"{day}")
    minutes: dict[str, list[PressMinute]] = {}
    for press in presses:
        a = (0.80 if day >= GO_LIVE else 0.75) + rng.gauss(0, 0.04)
        states = []
        for minute in range(1440):
            if not 360 <= minute < 1320:
                states.append(_OFF)
            elif rng.random() >= a:
                states.append(_IDLE)
            else:
                states.append(_RUN_REJECT if rng.random() < 0.02 else _RUN)
        minutes[press] = states
    meter = [
        0.5 + 0.02 * sum(minutes[p][m][2] for p in presses) + rng.uniform(0.0, 0.05)
        for m in range(1440)
    ]
    return PlantDay(day, minutes, meter)


def _press_window(device: str, start: datetime, state: PressMinute) -> wire.KpiWindow:
    planned, running, parts, rejects = state
    return wire.KpiWindow(
        device=device, start=start, end=start + timedelta(minutes=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=60.0 if planned else 0.0,
        planned_s=60.0 if planned else 0.0, run_s=60.0 if running else 0.0,
        idle_s=60.0 if planned and not running else 0.0, down_s=0.0,
        off_s=0.0 if planned else 60.0, planned_stop_s=0.0, total_count=parts,
        good_count=parts - rejects, reject_count=rejects, energy_kwh=None, ideal_cycle_s=20.0,
        quality=wire.DataQuality(**_QUALITY_VALUES),
    )  # fmt: skip


def _meter_window(start: datetime, kwh: float) -> wire.KpiWindow:
    return wire.KpiWindow(
        device=METER, start=start, end=start + timedelta(minutes=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=0.0, planned_s=0.0, run_s=None, idle_s=None,
        down_s=None, off_s=None, planned_stop_s=None, total_count=None, good_count=None,
        reject_count=None, energy_kwh=kwh, ideal_cycle_s=None,
        quality=wire.DataQuality(**_QUALITY_VALUES),
    )  # fmt: skip


def _midnight(day: date) -> datetime:
    return datetime.combine(day, clock(), tzinfo=ZONE).astimezone(UTC)


def reference_lines(plant: PlantDay, seq: int) -> list[str]:
    """The day's lines the slow, sure way: validated wire windows through the store's encoder."""
    midnight = _midnight(plant.day)
    lines = []
    for press, states in plant.presses.items():
        for minute, state in enumerate(states):
            window = _press_window(press, midnight + timedelta(minutes=minute), state)
            lines.append(window_line(WindowRecord(PLATFORM, ENTERPRISE, AGENT, seq, window)))
    for minute, kwh in enumerate(plant.meter_kwh):
        window = _meter_window(midnight + timedelta(minutes=minute), kwh)
        lines.append(window_line(WindowRecord(PLATFORM, ENTERPRISE, AGENT, seq, window)))
    return lines


# --- the same lines from templates --------------------------------------------------------

_SEQ_MARK = 987654321
_KWH_MARK = 0.123456789


def _template(window: wire.KpiWindow) -> tuple[str, str]:
    """(text before the energy or seq, text between energy and seq) of the encoder's line."""
    line = window_line(WindowRecord(PLATFORM, ENTERPRISE, AGENT, _SEQ_MARK, window))
    head, _, _ = line.partition(f"seq={_SEQ_MARK}i,")
    before, found, after = head.partition(f"energy_kwh={_KWH_MARK!r},")
    return (before, after) if found else (head, "")


@dataclass(frozen=True, slots=True)
class Templates:
    """Line text per device and minute kind, rendered once by ``window_line`` itself."""

    press: dict[tuple[str, PressMinute], str]
    meter: tuple[str, str]

    @classmethod
    def render(cls, presses: Sequence[str]) -> Templates:
        """Templates for these presses and the meter (a fixed start: times are the tail)."""
        start = _midnight(FIRST_DAY)
        press = {
            (name, state): _template(_press_window(name, start, state))[0]
            for name in presses
            for state in (_OFF, _IDLE, _RUN, _RUN_REJECT)
        }
        return cls(press, _template(_meter_window(start, _KWH_MARK)))

    def lines(self, plant: PlantDay, seq: int) -> list[str]:
        """The day's lines, equal to :func:`reference_lines` (checked on the first day)."""
        first_ms = to_ms(_midnight(plant.day))
        tails = [
            f"seq={seq}i,window_start_ms={first_ms + 60_000 * m}i {first_ms + 60_000 * (m + 1)}"
            for m in range(1440)
        ]
        lines = [
            self.press[(press, state)] + tails[m]
            for press, states in plant.presses.items()
            for m, state in enumerate(states)
        ]
        before, after = self.meter
        lines += [
            f"{before}energy_kwh={kwh!r},{after}{tails[m]}" for m, kwh in enumerate(plant.meter_kwh)
        ]
        return lines


async def load(store: InfluxStore, days: Sequence[date], devices: int) -> int:
    """Write every window of ``days`` (several /write requests in flight), then compute every
    device-day's rollup once; return the number of windows."""
    presses = _presses(devices)
    templates = Templates.render(presses)
    first = plant_day(days[0], presses)
    if templates.lines(first, 1) != reference_lines(first, 1):
        raise SystemExit("bench: the template lines differ from the store's encoder")
    slots = asyncio.Semaphore(IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()

    async def send(lines: list[str]) -> None:
        try:
            await store.write_lines(lines, retention_policy=store.raw_retention_policy)
        finally:
            slots.release()

    written = 0
    for index, day in enumerate(days):
        lines = templates.lines(plant_day(day, presses), seq=index + 1)
        written += len(lines)
        await slots.acquire()
        task = asyncio.create_task(send(lines))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    keys = [
        DayKey(ENTERPRISE, device, day, TZ_NAME) for day in days for device in [*presses, METER]
    ]
    await store.refresh_days(keys)
    return written


def _fold(sums: dict[tuple[str, date], dict[str, Any]], records: Sequence[WindowRecord]) -> None:
    """Add windows to per-(device, local day) sums, the naive way: one window at a time. A
    quantity no window of the day measured stays absent (None), as in the rollups."""
    for record in records:
        w = record.window
        assert isinstance(w, wire.KpiWindow), "the store reads windows back as wire.KpiWindow"
        day = sums[(w.device, day_of(w.end, ZONE))]
        for name in _SUMMED:
            value = getattr(w, name)
            if value is not None:
                day[name] = day.get(name, 0) + value
        for name in _QUALITY:
            day[name] = day.get(name, 0) + getattr(w.quality, name)
        if w.ideal_cycle_s is not None and w.total_count is not None:
            day["ideal_count_s"] = day.get("ideal_count_s", 0.0) + w.ideal_cycle_s * w.total_count
        day["duration_s"] = day.get("duration_s", 0.0) + (w.end - w.start).total_seconds()
        day["windows"] = day.get("windows", 0) + 1
        day["first_start"] = min(day.get("first_start") or w.start, w.start)
        day["last_end"] = max(day.get("last_end") or w.end, w.end)
        if w.ideal_cycle_s is not None:
            low, high = day.get("ideal_cycle_s_min"), day.get("ideal_cycle_s_max")
            day["ideal_cycle_s_min"] = w.ideal_cycle_s if low is None else min(low, w.ideal_cycle_s)
            day["ideal_cycle_s_max"] = (
                w.ideal_cycle_s if high is None else max(high, w.ideal_cycle_s)
            )


def _rows(sums: dict[tuple[str, date], dict[str, Any]]) -> list[DailyRow]:
    """One DailyRow per device and local day from the folded sums."""
    rows = []
    optional = (*_SUMMED, "ideal_count_s", "ideal_cycle_s_min", "ideal_cycle_s_max")
    for (device, day), found in sums.items():
        values: dict[str, Any] = {name: found.get(name) for name in optional} | {
            name: found[name] for name in (*_QUALITY, "duration_s")
        }
        values = {
            name: int(value) if name in _INTEGER_SUMS and value is not None else value
            for name, value in values.items()
        }
        rows.append(
            DailyRow(
                platform=PLATFORM,
                enterprise=ENTERPRISE,
                agent=AGENT,
                device=device,
                provenance="measured",
                day=day,
                tz=TZ_NAME,
                windows=found["windows"],
                partial_windows=0,
                config_digests=1,
                first_start=found["first_start"],
                last_end=found["last_end"],
                config_digest_first=DIGEST,
                config_digest_last=DIGEST,
                **values,
            )
        )
    return rows


async def naive(registry: Registry, store: InfluxStore) -> tuple[EnterpriseEvidence, int]:
    """Every raw window of the periods, daily sums in Python, the same assembly; the document
    and the number of windows read."""
    inputs = await gather_enterprise(registry, store, ENTERPRISE)
    enterprise = inputs.enterprise
    first = enterprise.baseline.start
    last = max(p.end for p in enterprise.reporting_periods)
    devices = sorted({row.device for row in inputs.rows})
    sums: dict[tuple[str, date], dict[str, Any]] = defaultdict(dict)
    read = 0
    for device in devices:
        day = first
        while day <= last:
            start = datetime.combine(day, clock(), tzinfo=ZONE)
            end = start + timedelta(days=CHUNK_DAYS)
            # Folded chunk by chunk: 2.6 million window objects at once would need gigabytes.
            records = await store.windows(ENTERPRISE, start, end, device=device)
            _fold(sums, records)
            read += len(records)
            day += timedelta(days=CHUNK_DAYS)
    rows = tuple(_rows(sums))
    return enterprise_evidence(replace(inputs, rows=rows), software=current_software()), read


def _sums_difference(ours: EnterpriseEvidence, naive: EnterpriseEvidence) -> float:
    """Largest relative difference between the two documents' period sums (InfluxDB's SUM and
    Python's add in another order: equal to about 1e-12, never to the last bit)."""
    largest = 0.0
    for mine, theirs in zip(ours.attempts, naive.attempts, strict=True):
        for a, b in zip(mine.kpis, theirs.kpis, strict=True):
            for period in ("baseline", "reporting"):
                x, y = getattr(a, period).sums, getattr(b, period).sums
                if x.keys() != y.keys():
                    return float("inf")
                for name, value in x.items():
                    scale = max(abs(value), abs(y[name]), 1e-300)
                    largest = max(largest, abs(value - y[name]) / scale)
    return largest


async def measure(workdir: Path, quick: bool) -> None:
    """Start influxd, load the windows, time both paths, print the figures and result line."""
    days = _days(quick)
    devices = 2 if quick else 10  # the meter and 1 or 9 presses
    server = InfluxServer(workdir / "influxd")
    server.start()
    try:
        with Registry(workdir / "registry.sqlite") as registry:
            registry.load_plan(load_plan(PLAN), by="bench")
            # One /write request per day of 10 devices (14,400 lines, about 8 MB).
            async with InfluxStore(server.url, "rv", timeout_s=300, batch_size=15_000) as store:
                await store.ensure_database()
                await store.ensure_retention()
                started = time.perf_counter()
                windows = await load(store, days, devices)
                loaded_s = time.perf_counter() - started
                print(f"loaded {windows} windows ({devices} devices x {len(days)} days) in "
                      f"{loaded_s:.1f} s ({windows / loaded_s:,.0f} windows/s, rollups "
                      "included)")  # fmt: skip
                await build_enterprise_evidence(registry, store, ENTERPRISE)  # warm-up
                ours_runs = []
                for _ in range(3):
                    started = time.perf_counter()
                    ours_doc = await build_enterprise_evidence(registry, store, ENTERPRISE)
                    ours_runs.append(time.perf_counter() - started)
                started = time.perf_counter()
                naive_doc, read = await naive(registry, store)
                naive_s = time.perf_counter() - started
    finally:
        server.stop()
    verdicts = [[(k.kpi, k.status) for k in a.kpis] for a in ours_doc.attempts]
    if verdicts != [[(k.kpi, k.status) for k in a.kpis] for a in naive_doc.attempts]:
        raise SystemExit(f"the two paths disagree: {verdicts}")
    ours = statistics.median(ours_runs)
    print(f"ours runs: {', '.join(f'{s:.3f}' for s in ours_runs)} s; verdicts {verdicts}")
    print(f"naive: {naive_s:.2f} s ({read} windows read)")
    difference = _sums_difference(ours_doc, naive_doc)
    print(f"largest relative difference of the period sums: {difference:.1e}")
    print(
        common.result_line(
            "evidence",
            naive_s / ours,
            f"{ours:.3f}s",
            f"{naive_s:.2f}s",
            "ours<=2s,ratio>=20",
            ratio_means="naive/ours",
        )
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    args = parser.parse_args()
    print(f"evidence: {common.machine_summary()}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        started = time.perf_counter()
        asyncio.run(measure(Path(tmp), args.quick))
        print(f"{time.perf_counter() - started:.2f} s wall")


if __name__ == "__main__":
    main()
