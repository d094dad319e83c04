"""How often ``count_faster_than_ideal`` fires on a press polled coarsely (method §10).

The demo's press (``sim`` machine: failures, idle spells, 5 % cycle jitter, two shifts from
06:00 to 22:00 local) polled every 600 s with comm loss only after 6 h, as the demo's agents
poll, part of the polls lost (under load the demo keeps 40–66 %), windowed by the real agent
code and summed per local day as the rollups do. ``tests/collector/evidence/test_plausibility.py``
runs one seed; the table in docs/evidence-method.md §10 comes from:

    .venv/bin/python -m tests.collector.evidence.sampling_gaps --seeds 6

It prints, per share of polls kept and seed: the honest press's flags (its ideal cycle set to
the machine's real mean cycle, the strictest honest setting) with the bound and against run_s
alone, its highest bounded performance, and the flag on the same press with its ideal cycle
15 % (the demo's ent-02 slip) and 30 % too long.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.config.tags import MachineState
from agent.kpi import CounterSpec, KpiSpec, Sample, WindowBuilder
from collector.evidence import enterprise_days
from collector.evidence.document import FlagDoc
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.plan import Enterprise, load_plan
from collector.store import DailyRow
from contract import wire
from sim.machine import Machine
from sim.plant import PlantConfig
from sim.scenario import demo_enterprises, plant_document, timeline
from tests.collector.evidence.helpers import device_day

PLANT_TZ = ZoneInfo("Asia/Shanghai")
POLL_S = 600
DAYS = 10
DIGEST = "sha256:" + "a" * 64


def press_polled_coarsely(
    first_day: date, ideal_factor: float, *, keep: float, machine_seed: int = 7, poll_seed: int = 11
) -> list[DailyRow]:
    """``DAYS`` local days of the press from ``first_day``, its ideal cycle ``ideal_factor`` x
    the machine's real mean cycle, a share ``keep`` of its 600-s polls answered."""
    plant = PlantConfig.model_validate(plant_document(demo_enterprises(3), timeline(28)))
    config = next(m for m in plant.machines if m.id == "ent-01-press")
    start = datetime.combine(first_day, datetime.min.time(), PLANT_TZ).timestamp()
    machine = Machine(config, seed=machine_seed, start_ts=start)
    # The cycle the press really has in these days (after its retrofit's go-live, 8 % faster).
    ideal = machine.rates(start).cycle_s * ideal_factor
    builder = WindowBuilder(
        KpiSpec(
            device_id="press-1",
            config_digest=DIGEST,
            window_s=3600,
            max_gap_s=21600.0,
            ideal_cycle_s=ideal,
            counters={"total_count": CounterSpec(16), "reject_count": CounterSpec(16)},
        ),
        resume_from=start,
    )
    polls, windows = random.Random(poll_seed), []
    for ts in range(int(start) + POLL_S, int(start) + DAYS * 86400 + 1, POLL_S):
        if polls.random() > keep:
            continue
        machine.advance_to(ts)
        shown = machine.snapshot()
        state = MachineState(shown.state.value)
        builder.add(
            Sample(ts=ts, state=state, total_count=shown.total_count,
                   reject_count=shown.reject_count)
        )  # fmt: skip
        windows += builder.close_due(ts)
    return [_local_day(day, ideal, group) for day, group in _by_local_day(windows).items()]


def _by_local_day(windows: list[wire.KpiWindow]) -> dict[date, list[wire.KpiWindow]]:
    days: dict[date, list[wire.KpiWindow]] = {}
    for window in windows:
        days.setdefault(window.start.astimezone(PLANT_TZ).date(), []).append(window)
    return days


def _local_day(day: date, ideal: float, windows: list[wire.KpiWindow]) -> DailyRow:
    def summed(name: str) -> float:
        return float(sum(getattr(w, name) or 0 for w in windows))

    return device_day(
        day, "press-1", scheduled_s=summed("scheduled_s"), planned_s=summed("planned_s"),
        run_s=summed("run_s"), idle_s=summed("idle_s"), down_s=summed("down_s"),
        total_count=int(summed("total_count")), good_count=int(summed("good_count")),
        reject_count=int(summed("reject_count")),
        ideal_count_s=sum(ideal * ((w.total_count or 0) - (w.unobserved_count or 0))
                          for w in windows),
        ideal_good_s=summed("ideal_good_s"), unobserved_count=int(summed("unobserved_count")),
        unsampled_run_s=summed("unsampled_run_s"),
        comm_loss_s=sum(w.quality.comm_loss_s for w in windows),
        scheduled_comm_loss_s=sum(w.quality.scheduled_comm_loss_s for w in windows),
        ideal_cycle_s_min=ideal, ideal_cycle_s_max=ideal,
    )  # fmt: skip


def speed_flags(enterprise: Enterprise, rows: list[DailyRow]) -> list[FlagDoc]:
    """The ``count_faster_than_ideal`` flags of ``rows``."""
    flags = plausibility_flags(FlagInputs(enterprise, rows, enterprise_days(rows)))
    return [flag for flag in flags if flag.check == "count_faster_than_ideal"]


def bounded_performance(row: DailyRow) -> float:
    """Σideal x count / (Σrun + Σunsampled_run) of a day, 0 for a day without either."""
    possible = (row.run_s or 0.0) + (row.unsampled_run_s or 0.0)
    return (row.ideal_count_s or 0.0) / possible if possible > 0 else 0.0


def _shown(flags: list[FlagDoc]) -> str:
    return f"{flags[0].severity} {flags[0].figures['days']} d" if flags else "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    plan = load_plan(Path(__file__).parents[1] / "plan_cases" / "valid_minimal" / "plan.yaml")
    enterprise = plan.plan.platforms[0].enterprises[0]
    first = enterprise.reporting.start
    for keep in (1.0, 0.5, 0.3):
        for seed in range(args.seeds):

            def press(factor: float, seed: int = seed, keep: float = keep) -> list[DailyRow]:
                return press_polled_coarsely(
                    first, factor, keep=keep, machine_seed=seed, poll_seed=100 + seed
                )

            honest = press(1.0)
            run_only = [replace(row, unsampled_run_s=None) for row in honest]
            highest = max(bounded_performance(row) for row in honest)
            slips = [_shown(speed_flags(enterprise, press(factor))) for factor in (1.15, 1.3)]
            print(
                f"kept={keep:.0%} seed={seed} honest={_shown(speed_flags(enterprise, honest))} "
                f"run_s_alone={_shown(speed_flags(enterprise, run_only))} "
                f"highest={highest:.3f} slip15={slips[0]} slip30={slips[1]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
