"""Plausibility and anti-fraud checks: each triggered by data that should, silent on data that
should not (collector/evidence/plausibility/, docs/evidence-method.md §10)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]  # no type hints

from agent.config.tags import MachineState
from agent.kpi import CounterSpec, KpiSpec, Sample, WindowBuilder
from collector.evidence import enterprise_days
from collector.evidence.assemble import EnterpriseInputs, enterprise_evidence
from collector.evidence.document import FlagDoc, PlanRefDoc, SoftwareDoc
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.evidence.plausibility.production import (
    PERFORMANCE_LIMIT,
    PERFORMANCE_SERIOUS_DAYS,
)
from collector.plan import load_plan
from collector.registry.records import SeqGap
from collector.store import DailyRow

from .helpers import device_day, simulated_rows
from .sampling_gaps import DAYS, press_polled_coarsely

PLAN = load_plan(Path(__file__).parents[1] / "plan_cases" / "valid_minimal" / "plan.yaml").plan
ENTERPRISE = PLAN.platforms[0].enterprises[0]
BASELINE, REPORTING = ENTERPRISE.baseline, ENTERPRISE.reporting  # 02-02..03-29, 06-01..08-30
DIGEST_A, DIGEST_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _clean() -> list[DailyRow]:
    rows = simulated_rows(BASELINE.start, BASELINE.end, availability=0.70, seed=1)
    return rows + simulated_rows(REPORTING.start, REPORTING.end, availability=0.80, seed=2)


def _flags(rows: list[DailyRow], **integrity: object) -> list[FlagDoc]:
    inputs = FlagInputs(ENTERPRISE, rows, enterprise_days(rows), **integrity)  # type: ignore[arg-type]
    return plausibility_flags(inputs)


def _checks(flags: list[FlagDoc]) -> list[tuple[str, str, str | None]]:
    return [(f.check, f.severity, f.device) for f in flags]


def _edit(rows: list[DailyRow], when: object, **changes: object) -> list[DailyRow]:
    """``rows`` with ``changes`` applied where ``when(row)`` is true."""
    return [replace(row, **changes) if when(row) else row for row in rows]  # type: ignore[operator, arg-type]


def test_clean_data_raises_no_flag() -> None:
    assert _flags(_clean()) == []


# --- counts faster than the ideal cycle -----------------------------------------------------


def test_counts_faster_than_the_ideal_cycle() -> None:
    day = REPORTING.start + timedelta(days=5)
    rows = _clean()
    target = next(r for r in rows if r.day == day and r.device == "press-1")
    assert target.run_s is not None
    for factor, expected in [(1.30, "serious"), (1.08, "warning"), (1.04, None)]:
        fast = _edit(
            rows,
            lambda r: r.day == day and r.device == "press-1",
            ideal_count_s=factor * target.run_s,
        )
        flags = [f for f in _flags(fast) if f.check == "count_faster_than_ideal"]
        if expected is None:
            assert flags == []
            continue
        assert _checks(flags) == [("count_faster_than_ideal", expected, "press-1")]
        assert flags[0].days == [day]
        assert flags[0].figures["max_performance"] == pytest.approx(factor, rel=1e-5)


def test_parts_without_run_time_are_serious() -> None:
    day = REPORTING.start
    rows = _edit(_clean(), lambda r: r.day == day and r.device == "press-2", run_s=0.0)
    (found,) = [f for f in _flags(rows) if f.check == "count_faster_than_ideal"]
    assert found.severity == "serious" and found.figures["days_without_run_time"] == 1
    assert found.figures["max_performance"] is None


# --- energy against output ------------------------------------------------------------------


def _varied(energy: object, seed: int = 3) -> list[DailyRow]:
    """Reporting rows whose output swings (availability 40-95 %), energy from ``energy(good)``."""
    rng = np.random.default_rng(seed)
    rows = simulated_rows(BASELINE.start, BASELINE.end, availability=0.70, seed=1)
    for offset in range(REPORTING.days):
        day = REPORTING.start + timedelta(days=offset)
        a = float(rng.uniform(0.40, 0.95))
        made = simulated_rows(day, day, availability=a, seed=seed + offset, devices=("press-1",))
        row = made[0]
        rows.append(replace(row, energy_kwh=energy(row.good_count, rng)))  # type: ignore[operator]
    return rows


def test_energy_that_does_not_follow_output() -> None:
    rows = _varied(lambda good, rng: 900.0 + float(rng.normal(0, 40)))
    (found,) = [f for f in _flags(rows) if f.check.startswith("energy_")]
    assert (found.check, found.severity, found.figures["period"]) == (
        "energy_not_following_output",
        "warning",
        "reporting",
    )
    reporting = [r for r in rows if r.day >= REPORTING.start]
    energy = [r.energy_kwh for r in reporting]
    output = [r.good_count for r in reporting]
    assert found.figures["correlation"] == pytest.approx(
        stats.pearsonr(energy, output).statistic, abs=1e-5
    )
    assert found.figures["days_compared"] == REPORTING.days


def test_energy_computed_from_the_counts() -> None:
    rows = _varied(lambda good, rng: 0.7 * good)
    (found,) = [f for f in _flags(rows) if f.check.startswith("energy_")]
    assert (found.check, found.severity) == ("energy_proportional_to_output", "serious")


def test_energy_that_follows_output_is_not_flagged() -> None:
    rows = _varied(lambda good, rng: 200.0 + 0.5 * good + float(rng.normal(0, 10)))
    assert [f for f in _flags(rows) if f.check.startswith("energy_")] == []


# --- identical days -------------------------------------------------------------------------


def test_a_day_copied_to_another_day_and_to_another_device() -> None:
    rows = _clean()
    source = next(r for r in rows if r.day == REPORTING.start and r.device == "press-1")
    copy_day = REPORTING.start + timedelta(days=10)
    copied = [
        r
        for r in rows
        if not (r.day == copy_day and r.device == "press-1")
        and not (r.day == REPORTING.start and r.device == "press-2")
    ]
    copied += [replace(source, day=copy_day), replace(source, device="press-2")]
    (found,) = [f for f in _flags(copied) if f.check == "identical_days"]
    assert found.severity == "serious" and found.device is None
    assert found.days == [REPORTING.start, copy_day]
    assert (found.figures["copies"], found.figures["devices"]) == (3, "press-1,press-2")
    assert found.figures["total_count"] == source.total_count


def test_equal_small_days_are_not_copies() -> None:
    rows = _edit(_clean(), lambda r: True, total_count=40, good_count=40, reject_count=0)
    rows = _edit(rows, lambda r: r.device == "press-1", run_s=20000.0, energy_kwh=100.0)
    rows = _edit(rows, lambda r: True, idle_s=0.0, down_s=0.0)
    assert [f for f in _flags(rows) if f.check == "identical_days"] == []


# --- what changes at go-live ----------------------------------------------------------------


def test_ideal_cycle_changed_after_the_baseline() -> None:
    for cycle, expected in [(22.0, "serious"), (18.0, "warning"), (20.1, None)]:
        rows = _edit(
            _clean(),
            lambda r: r.day >= REPORTING.start,
            ideal_cycle_s_min=cycle,
            ideal_cycle_s_max=cycle,
        )
        flags = [f for f in _flags(rows) if f.check == "ideal_cycle_changed"]
        if expected is None:
            assert flags == []
            continue
        assert [f.device for f in flags] == ["press-1", "press-2"]
        assert {f.severity for f in flags} == {expected}
        assert flags[0].figures["ratio"] == pytest.approx(cycle / 20.0, rel=1e-5)
        assert flags[0].figures["first_changed_day"] == REPORTING.start.isoformat()
        assert flags[0].figures["days_from_go_live"] == (REPORTING.start - ENTERPRISE.go_live).days


def test_agent_configuration_changed_at_go_live_and_inside_a_period() -> None:
    rows = _edit(
        _clean(), lambda r: True, config_digest_first=DIGEST_A, config_digest_last=DIGEST_A
    )
    assert [f for f in _flags(rows) if f.check.startswith("config_")] == []
    changed = _edit(
        rows, lambda r: r.day >= REPORTING.start, config_digest_first=DIGEST_B,
        config_digest_last=DIGEST_B,
    )  # fmt: skip
    mid = BASELINE.start + timedelta(days=20)
    changed = _edit(
        changed, lambda r: r.day == mid and r.device == "press-1", config_digests=2,
        config_digest_last=DIGEST_B,
    )  # fmt: skip
    changed = _edit(
        changed, lambda r: BASELINE.start + timedelta(days=21) <= r.day <= BASELINE.end
        and r.device == "press-1", config_digest_first=DIGEST_B, config_digest_last=DIGEST_B,
    )  # fmt: skip
    flags = [f for f in _flags(changed) if f.check.startswith("config_")]
    assert _checks(flags) == [
        ("config_changed_at_go_live", "warning", "press-2"),
        ("config_changed_in_period", "info", "press-1"),
    ]
    at_go_live = flags[0]
    assert at_go_live.days == [REPORTING.start]
    assert at_go_live.figures["new_digest"] == DIGEST_B
    assert flags[1].days == [mid]
    # Imported baseline rows carry the importer's digest: not a measurement change.
    imported = _edit(
        changed, lambda r: r.day <= BASELINE.end, provenance="imported",
        config_digest_first=DIGEST_A, config_digest_last=DIGEST_A, config_digests=1,
    )  # fmt: skip
    assert [f for f in _flags(imported) if f.check.startswith("config_")] == []


def test_a_device_only_in_the_reporting_period() -> None:
    rows = _clean() + simulated_rows(
        REPORTING.start, REPORTING.end, availability=0.95, seed=9, devices=("press-3",)
    )
    flags = [f for f in _flags(rows) if f.check == "device_only_in_one_period"]
    assert _checks(flags) == [("device_only_in_one_period", "warning", "press-3")]
    assert flags[0].figures["present_in"] == "reporting"


def test_imported_reporting_data() -> None:
    rows = _clean()
    for days, severity in [(9, "info"), (20, "warning"), (60, "serious")]:
        cut = REPORTING.start + timedelta(days=days)
        imported = _edit(rows, lambda r: REPORTING.start <= r.day < cut, provenance="imported")  # noqa: B023
        (found,) = [f for f in _flags(imported) if f.check == "reporting_imported"]
        assert found.severity == severity
        assert found.figures["imported_share"] == pytest.approx(days / REPORTING.days, rel=1e-5)


def test_comm_loss_concentrated_around_go_live() -> None:
    edges = [BASELINE.end - timedelta(days=n) for n in range(14)]
    edges += [REPORTING.start + timedelta(days=n) for n in range(14)]
    lossy = _edit(_clean(), lambda r: r.day in edges, scheduled_comm_loss_s=28800.0 * 0.5)
    (found,) = [f for f in _flags(lossy) if f.check == "comm_loss_around_go_live"]
    assert found.figures["edge_comm_loss_share"] == pytest.approx(0.5)
    assert found.figures["rest_comm_loss_share"] == 0.0
    assert found.days == sorted(edges)
    # The same loss on every day is poor data, not loss aimed at the go-live.
    even = _edit(_clean(), lambda r: True, scheduled_comm_loss_s=28800.0 * 0.5)
    assert [f for f in _flags(even) if f.check == "comm_loss_around_go_live"] == []
    # Days without any data right after go-live.
    gone = [r for r in _clean() if not REPORTING.start <= r.day < REPORTING.start + timedelta(9)]
    (found,) = [f for f in _flags(gone) if f.check == "comm_loss_around_go_live"]
    assert found.figures["edge_missing_share"] == pytest.approx(9 / 28, rel=1e-5)


# --- integrity ------------------------------------------------------------------------------


def test_seq_gaps_quarantine_and_clock_jumps() -> None:
    opened = datetime(2026, 6, 3, tzinfo=UTC)
    gaps = (
        SeqGap("gw-1", 11, 20, opened),  # 10 of 100 missing: serious
        SeqGap("gw-2", 5, 5, opened),  # 1 of 1000: warning
        SeqGap("gw-2", 7, 9, opened, closed_at=opened),  # arrived late: no flag
    )
    rows = _edit(
        _clean(), lambda r: r.day == REPORTING.start and r.device == "press-1", clock_jumps=2
    )
    flags = _flags(
        rows,
        seq_gaps=gaps,
        highest_seqs={"gw-1": 100, "gw-2": 1000},
        quarantined={"gw-1": {"bad_signature": 3, "not_json": 1}},
    )
    assert [(f.check, f.severity, f.figures.get("agent")) for f in flags] == [
        ("quarantined_messages", "serious", "gw-1"),
        ("seq_gap", "serious", "gw-1"),
        ("clock_jump", "warning", None),
        ("quarantined_messages", "warning", "gw-1"),
        ("seq_gap", "warning", "gw-2"),
    ]
    assert flags[1].figures["missing_share"] == pytest.approx(0.1)
    assert flags[2].days == [REPORTING.start] and flags[2].figures["jumps"] == 2


def test_flags_never_change_the_verdict() -> None:
    rows = _clean()
    inputs = EnterpriseInputs(
        PLAN, PlanRefDoc(key=PLAN.key, version=1, digest="sha256:x"), PLAN.platforms[0],
        ENTERPRISE, tuple(rows),
    )  # fmt: skip
    software = SoftwareDoc(retrofit_verify="t", python="3", numpy="2", scipy="1", statsmodels="0")
    plain = enterprise_evidence(inputs, software=software)
    flagged = enterprise_evidence(
        replace(inputs, quarantined={"gw": {"bad_signature": 9}}, highest_seqs={"gw": 10},
                seq_gaps=(SeqGap("gw", 1, 5, datetime(2026, 6, 1, tzinfo=UTC)),)),
        software=software,
    )  # fmt: skip
    assert plain.flags == [] and len(flagged.flags) == 2
    assert flagged.attempts == plain.attempts and flagged.status == plain.status
    assert date(2026, 6, 1) == REPORTING.start


def _day_from_agent(day: date, ideal_cycle_s: float) -> DailyRow:
    """press-1's day as the agent windows it: 2 h running at a part every 2 s, polled each
    second, silent for the middle half hour while it goes on making parts; summed as the
    store and the rollup do (ideal_count_s over the parts made in observed time)."""
    builder = WindowBuilder(
        KpiSpec(
            device_id="press-1",
            config_digest=DIGEST_A,
            ideal_cycle_s=ideal_cycle_s,
            counters={"total_count": CounterSpec(32), "reject_count": CounterSpec(32)},
        ),
        resume_from=T0,
    )
    windows = []
    for second in range(7201):
        if 1800 <= second < 3600:
            continue  # the device does not answer; its counter keeps counting
        total = second // 2
        builder.add(Sample(ts=T0 + second, state=MachineState.RUNNING, total_count=total,
                           reject_count=total // 50))  # fmt: skip
        windows += builder.close_due(T0 + second)

    def summed(name: str) -> float:
        return float(sum(getattr(w, name) or 0 for w in windows))

    return device_day(
        day, "press-1", scheduled_s=7200.0, planned_s=summed("planned_s"), run_s=summed("run_s"),
        idle_s=0.0, down_s=0.0, total_count=int(summed("total_count")),
        good_count=int(summed("good_count")), reject_count=int(summed("reject_count")),
        ideal_count_s=sum(ideal_cycle_s * ((w.total_count or 0) - (w.unobserved_count or 0))
                          for w in windows),
        ideal_good_s=summed("ideal_good_s"), unobserved_count=int(summed("unobserved_count")),
        comm_loss_s=sum(w.quality.comm_loss_s for w in windows),
        scheduled_comm_loss_s=sum(w.quality.scheduled_comm_loss_s for w in windows),
        ideal_cycle_s_min=ideal_cycle_s, ideal_cycle_s_max=ideal_cycle_s,
    )  # fmt: skip


T0 = datetime(2026, 6, 10, tzinfo=UTC).timestamp()


def test_a_comm_loss_gap_alone_raises_no_flag_but_a_long_ideal_cycle_does() -> None:
    day = date(2026, 6, 10)
    assert REPORTING.start <= day <= REPORTING.end
    honest = _day_from_agent(day, ideal_cycle_s=2.0)
    assert honest.unobserved_count == 901 and honest.comm_loss_s > 1800
    # What the check saw before: every part against the observed run time, 1.33.
    assert honest.run_s is not None and honest.total_count is not None
    assert 2.0 * honest.total_count / honest.run_s > 1.3
    rows = [r for r in _clean() if not (r.day == day and r.device == "press-1")]
    assert [f for f in _flags([*rows, honest]) if f.check == "count_faster_than_ideal"] == []
    # The same device with its ideal cycle configured 30 % too long is flagged, gap or not.
    inflated = _day_from_agent(day, ideal_cycle_s=2.6)
    (found,) = [f for f in _flags([*rows, inflated]) if f.check == "count_faster_than_ideal"]
    assert found.device == "press-1" and found.days == [day]
    assert found.severity == "serious" and found.figures["max_performance"] == pytest.approx(
        1.3, abs=0.01
    )


# --- run time the polls may have missed (docs/evidence-method.md §10) ----------------------


def _press(ideal_factor: float) -> list[DailyRow]:
    """press-1 as the demo's press at 600-s polls, half of them lost (sampling_gaps.py)."""
    return press_polled_coarsely(REPORTING.start, ideal_factor, keep=0.5)


def _speed_flags(press: list[DailyRow]) -> list[FlagDoc]:
    days = {row.day for row in press}
    rows = [r for r in _clean() if not (r.day in days and r.device == "press-1")]
    return [f for f in _flags([*rows, *press]) if f.check == "count_faster_than_ideal"]


def test_sampling_gaps_alone_raise_no_flag() -> None:
    # An honest installer who took the nameplate cycle as the ideal (the strictest honest case).
    honest = _press(1.0)
    assert len(honest) >= DAYS - 1 and all(row.unobserved_count == 0 for row in honest)
    assert sum(row.unsampled_run_s or 0 for row in honest) > 0
    # Against run_s alone, sample and hold put this honest press past the limit (the flag
    # the quick demo raised on ent-01) ...
    assert any((row.ideal_count_s or 0) > PERFORMANCE_LIMIT * (row.run_s or 0) for row in honest)
    assert _speed_flags([replace(row, unsampled_run_s=None) for row in honest])
    # ... against the run time the polls may have missed as well, never.
    assert _speed_flags(honest) == []


def test_an_ideal_cycle_set_30_percent_too_long_still_flags_at_coarse_polls() -> None:
    (found,) = _speed_flags(_press(1.3))
    assert found.device == "press-1" and found.severity == "serious"
    figures = found.figures
    assert isinstance(figures["days"], int) and figures["days"] >= PERFORMANCE_SERIOUS_DAYS
    assert isinstance(figures["max_performance"], float) and figures["max_performance"] > 1.1
    assert isinstance(figures["unsampled_run_s"], float) and figures["unsampled_run_s"] > 0


def test_the_bound_is_the_run_time_plus_what_the_polls_may_have_missed() -> None:
    day = REPORTING.start + timedelta(days=5)
    rows = _clean()
    target = next(r for r in rows if r.day == day and r.device == "press-1")
    assert target.run_s is not None
    # 1.30 x run_s of ideal time: flagged against run_s alone, not with 0.3 x run_s missed.
    fast = {"ideal_count_s": 1.30 * target.run_s}
    for unsampled, expected in [(None, 1.30), (0.1 * target.run_s, 1.30 / 1.1)]:
        changed = _edit(rows, lambda r: r is target, **fast, unsampled_run_s=unsampled)
        (found,) = [f for f in _flags(changed) if f.check == "count_faster_than_ideal"]
        assert found.figures["max_performance"] == pytest.approx(expected, rel=1e-5)
    quiet = _edit(rows, lambda r: r is target, **fast, unsampled_run_s=0.3 * target.run_s)
    assert [f for f in _flags(quiet) if f.check == "count_faster_than_ideal"] == []
