"""KPIs from summed base quantities (collector/evidence/daily.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from collector.evidence import MeasurementBoundary, enterprise_days, kpi_value, oee_quality
from collector.store import DailyRow

from .helpers import device_day, meter_day

SHIFT_DAY = date(2026, 3, 2)
# The published worked example (480-min shift; two 15-min breaks and a 30-min meal; 47 min
# of down time; ideal cycle 1.0 s; 19,271 parts of which 423 rejected).
BREAK_MINUTES = set(range(120, 135)) | set(range(240, 270)) | set(range(360, 375))
DOWN_MINUTES = set(range(60, 107))
TOTAL, REJECTS = 19_271, 423


def _minute_windows() -> list[dict[str, float]]:
    """480 one-minute windows of base quantities whose sums give the worked example."""
    running = [m for m in range(480) if m not in BREAK_MINUTES and m not in DOWN_MINUTES]
    per_minute, extra = divmod(TOTAL, len(running))
    reject_per_minute, reject_extra = divmod(REJECTS, len(running))
    windows = []
    for minute in range(480):
        window = dict.fromkeys(
            ("scheduled_s", "planned_s", "run_s", "down_s", "total", "reject"), 0.0
        )
        if minute not in BREAK_MINUTES:
            window["scheduled_s"] = window["planned_s"] = 60.0
        if minute in DOWN_MINUTES:
            window["down_s"] = 60.0
        elif minute not in BREAK_MINUTES:
            index = running.index(minute)
            window["run_s"] = 60.0
            window["total"] = per_minute + (1 if index < extra else 0)
            window["reject"] = reject_per_minute + (1 if index < reject_extra else 0)
        windows.append(window)
    return windows


def _day_from_minutes() -> DailyRow:
    windows = _minute_windows()

    def total(name: str) -> float:
        return sum(window[name] for window in windows)

    count, rejects = int(total("total")), int(total("reject"))
    return device_day(
        SHIFT_DAY,
        scheduled_s=total("scheduled_s"),
        planned_s=total("planned_s"),
        run_s=total("run_s"),
        down_s=total("down_s"),
        total_count=count,
        reject_count=rejects,
        good_count=count - rejects,
        # Σ(ideal cycle × count) and Σ(ideal cycle × good) with 1.0 s in every window.
        ideal_count_s=sum(1.0 * window["total"] for window in windows),
        ideal_good_s=sum(1.0 * (window["total"] - window["reject"]) for window in windows),
        ideal_cycle_s_min=1.0,
        ideal_cycle_s_max=1.0,
    )


def test_oee_worked_example_from_minute_windows() -> None:
    (day,) = enterprise_days([_day_from_minutes()])
    published = {"availability": 88.81, "performance": 86.11, "quality": 97.80, "oee": 74.79}
    for kpi, percent in published.items():
        value = day.value(kpi)
        assert value is not None
        assert abs(100 * value - percent) < 0.01, kpi
    assert day.kpi_sums["availability"] == {"run_s": 373 * 60, "planned_s": 420 * 60}
    assert day.kpi_sums["quality"]["good_count"] == 18_848


def test_oee_equals_a_times_p_times_q_and_the_reduced_form() -> None:
    (day,) = enterprise_days([_day_from_minutes()])
    a, p, q, oee = (day.value(k) for k in ("availability", "performance", "quality", "oee"))
    assert a is not None and p is not None and q is not None and oee is not None
    assert oee == pytest.approx(a * p * q, rel=1e-12)
    assert oee == pytest.approx(1.0 * 18_848 / (420 * 60), rel=1e-12)


def test_a_day_without_ideal_good_s_falls_back_only_on_one_ideal_cycle() -> None:
    # Windows from an agent that predates ideal_good_s: the day's one ideal cycle x good count
    # is the same sum; with two ideal cycles in the day there is no OEE rather than a guess.
    exact = _day_from_minutes()
    old = replace(exact, ideal_good_s=None)
    (day,) = enterprise_days([old])
    assert day.value("oee") == pytest.approx(18_848 / 25_200, rel=1e-12)
    changed = replace(old, ideal_cycle_s_max=1.2)
    (day,) = enterprise_days([changed])
    assert day.value("oee") is None
    assert day.value("performance") is not None  # the other KPIs are unaffected


# Three devices whose ideal cycles differ 50x: a packer (0.9 s), a press (9 s), a CNC (45 s).
# Each planned 28,800 s and ran 24,000 s at performance 0.9, so each made 21,600 s of ideal
# time; the packer scraps 10 % of its parts, the press 2 %, the CNC 0.5 %.
_CELLS = (("packer", 0.9, 0.10), ("press", 9.0, 0.02), ("cnc", 45.0, 0.005))


def _cell_day(device: str, cycle_s: float, reject_share: float) -> DailyRow:
    total = round(21_600 / cycle_s)
    rejects = round(total * reject_share)
    return device_day(
        SHIFT_DAY,
        device,
        planned_s=28_800.0,
        run_s=24_000.0,
        total_count=total,
        reject_count=rejects,
        good_count=total - rejects,
        ideal_count_s=cycle_s * total,
        ideal_good_s=cycle_s * (total - rejects),
        ideal_cycle_s_min=cycle_s,
        ideal_cycle_s_max=cycle_s,
    )


def test_enterprise_oee_weighs_parts_by_their_ideal_cycle() -> None:
    rows = [_cell_day(*cell) for cell in _CELLS]
    (day,) = enterprise_days(rows)
    # By hand: fully productive time over planned busy time (ISO 22400-2). Good parts 21,600
    # of 24,000, 2,352 of 2,400 and 478 of 480: 19,440 + 21,168 + 21,510 = 62,118 s.
    expected = (0.9 * 21_600 + 9.0 * 2_352 + 45.0 * 478) / 86_400
    oee = day.value("oee")
    assert oee == pytest.approx(expected, rel=1e-12)  # 71.90 %
    # A x P x Q with Q the pooled count ratio is not it: the packer's parts outnumber the CNC's
    # 50 to 1, so its scrap drags Q (and that product) down far more than its machine time does.
    a, p, q = (day.value(k) for k in ("availability", "performance", "quality"))
    assert a is not None and p is not None and q is not None and oee is not None
    assert q == pytest.approx((26_880 - 2_450) / 26_880, rel=1e-12)  # 合格率 stays a count ratio
    assert a * p * q == pytest.approx(0.75 * q, rel=1e-12)  # 68.16 %, 3.7 points too low
    assert a * p * q < oee - 0.03
    # The quality factor that goes with the OEE makes the identity exact.
    q_oee = oee_quality(day.kpi_sums["oee"])
    assert q_oee is not None
    assert a * p * q_oee == pytest.approx(oee, rel=1e-12)
    assert q_oee == pytest.approx(expected * 86_400 / (3 * 21_600), rel=1e-12)


def test_enterprise_is_the_ratio_of_device_sums_not_the_mean_of_ratios() -> None:
    big = device_day(SHIFT_DAY, "line-1", planned_s=57600.0, run_s=54720.0)  # 95 %
    small = device_day(SHIFT_DAY, "line-2", planned_s=7200.0, run_s=3600.0)  # 50 %
    (day,) = enterprise_days([big, small])
    assert day.value("availability") == pytest.approx((54720 + 3600) / (57600 + 7200))
    assert day.value("availability") != pytest.approx((0.95 + 0.50) / 2)
    assert day.devices == 2


def test_other_kpis_from_sums() -> None:
    (day,) = enterprise_days([device_day(SHIFT_DAY)])
    assert day.value("output_per_planned_hour") == pytest.approx(980 / 8)
    assert day.value("defect_rate") == pytest.approx(0.02)
    assert day.value("unplanned_downtime_per_planned_hour") == pytest.approx(2880 / 28800)
    assert day.value("energy_per_unit") == pytest.approx(500 / 980)
    assert day.value("performance") == pytest.approx(20000 / 23040)


def test_zero_denominator_is_undefined_not_zero() -> None:
    idle = device_day(
        SHIFT_DAY,
        planned_s=0.0,
        run_s=0.0,
        total_count=0,
        good_count=0,
        reject_count=0,
        ideal_count_s=0.0,
        down_s=0.0,
    )
    (day,) = enterprise_days([idle])
    for kpi in (
        "availability",
        "performance",
        "quality",
        "oee",
        "defect_rate",
        "output_per_planned_hour",
        "energy_per_unit",
    ):
        assert day.value(kpi) is None, kpi
    assert kpi_value("quality", {"good_count": 0, "total_count": 0}) is None


def test_planned_time_without_output_is_oee_zero() -> None:
    stopped = device_day(
        SHIFT_DAY,
        run_s=0.0,
        down_s=28800.0,
        total_count=0,
        good_count=0,
        reject_count=0,
        ideal_count_s=0.0,
    )
    (day,) = enterprise_days([stopped])
    assert day.value("oee") == 0.0
    assert day.value("availability") == 0.0
    assert day.value("quality") is None


def test_device_without_a_meter_adds_no_parts_to_energy_per_unit() -> None:
    metered = device_day(SHIFT_DAY, "line-1", energy_kwh=400.0, good_count=800)
    unmetered = device_day(SHIFT_DAY, "line-2", energy_kwh=None, good_count=1200)
    (day,) = enterprise_days([metered, unmetered])
    assert day.value("energy_per_unit") == pytest.approx(400 / 800)
    assert day.value("output_per_planned_hour") == pytest.approx(2000 / 16)


def _meter(device: str, energy_kwh: float | None, **changes: object) -> DailyRow:
    return meter_day(SHIFT_DAY, device, energy_kwh, **changes)


def _plant() -> list[DailyRow]:
    """Two presses counting parts (press-2 with its own meter), the main feeder and a
    compressor sub-meter behind it (deploy/agent/examples/energy-meter-rtu.yaml's layout)."""
    return [
        device_day(SHIFT_DAY, "press-1", good_count=1200, energy_kwh=None, planned_s=28800.0),
        device_day(SHIFT_DAY, "press-2", good_count=800, energy_kwh=150.0, planned_s=21600.0),
        _meter("meter-main", 900.0),
        _meter("compressor", 120.0),
    ]


def test_facility_boundary_takes_the_listed_meters_against_every_counter() -> None:
    facility = MeasurementBoundary("facility", frozenset({"meter-main"}))
    (day,) = enterprise_days(_plant(), facility)
    # The main feeder only: the compressor behind it and press-2's own meter are inside it.
    assert day.kpi_sums["energy_per_unit"] == {
        "energy_kwh": 900.0,
        "good_count": 2000.0,
        "planned_s": 28800.0 + 21600.0,
    }
    assert day.value("energy_per_unit") == pytest.approx(900 / 2000)
    # The other KPIs do not depend on the boundary.
    (devices_day,) = enterprise_days(_plant())
    assert day.kpi_sums["oee"] == devices_day.kpi_sums["oee"]
    # Devices (the default): only press-2 measured both.
    assert devices_day.kpi_sums["energy_per_unit"] == {
        "energy_kwh": 150.0,
        "good_count": 800.0,
        "planned_s": 21600.0,
    }
    two = MeasurementBoundary("facility", frozenset({"meter-main", "compressor"}))
    (summed,) = enterprise_days(_plant(), two)
    assert summed.kpi_sums["energy_per_unit"]["energy_kwh"] == 1020.0


def test_a_main_meter_alone_gives_no_energy_per_unit_on_the_devices_boundary() -> None:
    rows = [device_day(SHIFT_DAY, "press-1", energy_kwh=None), _meter("meter-main", 900.0)]
    (day,) = enterprise_days(rows)
    assert day.value("energy_per_unit") is None
    (day,) = enterprise_days(rows, MeasurementBoundary("facility", frozenset({"meter-main"})))
    assert day.value("energy_per_unit") == pytest.approx(900 / 980)


@pytest.mark.parametrize(
    ("meter_rows", "expected_kwh"),
    [
        # Heard 80 % of the day exactly: counts.
        ([_meter("meter-main", 900.0, comm_loss_s=17280.0)], 900.0),
        # Heard less (comm loss, or windows missing): the day's facility energy is unknown.
        ([_meter("meter-main", 900.0, comm_loss_s=17281.0)], None),
        ([_meter("meter-main", 900.0, duration_s=43200.0)], None),
        ([_meter("meter-main", None)], None),
        ([], None),
        # Measured and imported rows of one meter add up, as for every other sum.
        (
            [
                _meter("meter-main", 500.0, duration_s=43200.0),
                _meter("meter-main", 400.0, duration_s=43200.0, provenance="imported"),
            ],
            900.0,
        ),
    ],
)
def test_a_facility_day_needs_every_meter_heard_for_most_of_the_day(
    meter_rows: list[DailyRow], expected_kwh: float | None
) -> None:
    press = device_day(SHIFT_DAY, "press-1", energy_kwh=None)
    facility = MeasurementBoundary("facility", frozenset({"meter-main"}))
    (day,) = enterprise_days([press, *meter_rows], facility)
    sums = day.kpi_sums.get("energy_per_unit")
    assert (None if sums is None else sums["energy_kwh"]) == expected_kwh
    # A second listed meter that never reported makes every day incomplete.
    both = MeasurementBoundary("facility", frozenset({"meter-main", "meter-2"}))
    (day,) = enterprise_days([press, *meter_rows], both)
    assert "energy_per_unit" not in day.kpi_sums


def test_facility_day_without_counted_output_has_no_energy_per_unit() -> None:
    facility = MeasurementBoundary("facility", frozenset({"meter-main"}))
    (day,) = enterprise_days([_meter("meter-main", 900.0)], facility)
    assert "energy_per_unit" not in day.kpi_sums


def test_coverage_and_imported_time() -> None:
    measured = device_day(SHIFT_DAY, "line-1", scheduled_comm_loss_s=7200.0)
    imported = device_day(SHIFT_DAY, "line-2", provenance="imported")
    (day,) = enterprise_days([measured, imported])
    assert day.coverage == pytest.approx(1 - 7200 / 57600)
    assert day.imported_scheduled_s == 28800.0
    (off,) = enterprise_days([device_day(SHIFT_DAY, scheduled_s=0.0)])
    assert off.coverage is None
