"""collector.store.rollup without a server: which local day a window belongs to, and bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.store.rollup import (
    DayGroup,
    DayKey,
    _daily_fields,
    _downtime_terms,
    _exact_sum,
    affected_days,
    daily_from_row,
    day_bounds,
    day_groups,
    day_of,
    rollup_statements,
)
from collector.store.schema import DAILY_FIELDS, OPTIONAL_QUANTITIES, SUMMABLE_FIELDS, FieldKind
from tests.collector.store_helpers import record, window

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-25 00:00 in Shanghai.
MIDNIGHT = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def test_a_window_ending_exactly_at_local_midnight_belongs_to_the_day_before() -> None:
    assert day_of(MIDNIGHT, SHANGHAI) == date(2026, 11, 24)
    assert day_of(MIDNIGHT + timedelta(milliseconds=1), SHANGHAI) == date(2026, 11, 25)
    assert day_of(MIDNIGHT - timedelta(milliseconds=1), SHANGHAI) == date(2026, 11, 24)
    # The same instant is another day in UTC.
    assert day_of(MIDNIGHT, ZoneInfo("UTC")) == date(2026, 11, 24)
    assert day_of(MIDNIGHT + timedelta(hours=8), ZoneInfo("UTC")) == date(2026, 11, 24)


def test_day_bounds_are_local_midnights_and_follow_daylight_saving() -> None:
    assert day_bounds(date(2026, 11, 25), SHANGHAI) == (MIDNIGHT, MIDNIGHT + timedelta(days=1))
    start, end = day_bounds(date(2026, 11, 1), ZoneInfo("America/New_York"))
    assert start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=25)  # the day the clocks go back


def test_affected_days_needs_each_enterprise_zone() -> None:
    records = [
        record(window(MIDNIGHT)),
        record(window(MIDNIGHT + timedelta(minutes=1))),
        record(window(MIDNIGHT + timedelta(minutes=2), device="press-2")),
    ]
    assert affected_days(records, {"ent-01": "Asia/Shanghai"}) == {
        DayKey("ent-01", "press-1", date(2026, 11, 24), "Asia/Shanghai"),
        DayKey("ent-01", "press-1", date(2026, 11, 25), "Asia/Shanghai"),
        DayKey("ent-01", "press-2", date(2026, 11, 25), "Asia/Shanghai"),
    }
    with pytest.raises(ValueError, match="ent-01"):
        affected_days(records, {"ent-02": "Asia/Shanghai"})
    with pytest.raises(ValueError, match="unknown time zone"):
        affected_days(records, {"ent-01": "Mars/Olympus"})


def test_devices_of_one_enterprise_day_share_one_set_of_statements() -> None:
    keys = [
        DayKey("e", "b", date(2026, 11, 25), "Asia/Shanghai"),
        DayKey("e", "a", date(2026, 11, 25), "Asia/Shanghai"),
        DayKey("e", "a", date(2026, 11, 24), "Asia/Shanghai"),
    ]
    assert day_groups(keys) == [
        DayGroup("e", date(2026, 11, 24), "Asia/Shanghai", ("a",)),
        DayGroup("e", date(2026, 11, 25), "Asia/Shanghai", ("a", "b")),
    ]
    sums, partial, last = rollup_statements('"rv"."raw"."kpi_window"', day_groups(keys)[1])
    # (midnight, next midnight]: the window ending at the start belongs to the day before.
    bounds = f"time > {1795536000000}ms AND time <= {1795622400000}ms"
    assert all(bounds in statement for statement in (sums, partial, last))
    assert "(\"device\" = 'a' OR \"device\" = 'b')" in sums
    assert '"partial" = true' in partial


def test_an_integer_sum_that_wrapped_is_not_taken() -> None:
    assert _exact_sum(30, 30.0) == 30
    assert _exact_sum(2**62 + 1, float(2**62)) == 2**62 + 1
    # InfluxDB wraps int64: 3 x 2**62 reads back negative, or positive but far off.
    assert _exact_sum(3 * 2**62 - 2**64, float(3 * 2**62)) is None
    assert _exact_sum(5 * 2**62 - 2**64, float(5 * 2**62)) is None
    assert _exact_sum(None, None) is None


@pytest.mark.parametrize(
    ("sums", "terms"),
    [
        ({"down_s": 600.0, "planned_s": 3600.0}, (600.0, 3600.0)),  # no state: block
        ({"down_s": 600.0, "planned_s": 3600.0, "inferred_planned_s": 720.0}, (600.0, 2880.0)),
        ({"down_s": 600.0, "planned_s": 3600.0, "inferred_planned_s": 720.1}, (0.0, 0.0)),
        ({"down_s": 0.0, "planned_s": 3600.0, "inferred_planned_s": 3600.0}, (0.0, 0.0)),
        ({"down_s": None, "planned_s": 3600.0}, (0.0, 0.0)),  # no state at all
    ],
)
def test_downtime_terms_follow_the_state_code_rule_and_are_never_left_out(
    sums: dict[str, float | None], terms: tuple[float, float]
) -> None:
    # 0, not None, on a day left out: InfluxDB merges a rewritten point field by field, so a
    # field left out would keep the day's earlier value (docs/storage.md, "Idempotency").
    assert _downtime_terms(sums) == terms


def _sums_row(*, measured: bool, overflow: bool) -> dict[str, Any]:
    """A row of the rollup's sums statement for a day of 5 windows: every optional quantity
    measured in 4 (ideal_good_s in 3: a partial sum), or in none; every integer sum wrapped
    past int64 (its float twin far off), or exact."""
    row: dict[str, Any] = {"windows": 5, "config_digests": 1, "first_start_ms": 1_000}
    row |= {"config_digest_first": "sha256:aa", "config_digest_last": "sha256:bb"}
    for name, kind in SUMMABLE_FIELDS.items():
        optional = name in OPTIONAL_QUANTITIES or name == "ideal_count_s"
        if optional and not measured:
            continue
        row[name] = 30 if kind is FieldKind.INTEGER else 30.0
        if kind is FieldKind.INTEGER:
            row[name + "__float"] = 3.0 * 2**62 if overflow else 30.0
    if measured:
        row |= {f"{name}_windows": 4 for name in OPTIONAL_QUANTITIES}
        row |= {"ideal_good_s_windows": 3, "ideal_cycle_s_min": 2.0, "ideal_cycle_s_max": 2.5}
    return row


def _stale_point() -> dict[str, Any]:
    """A kpi_daily point an earlier refresh wrote, every field set (strings as text)."""
    stale: dict[str, Any] = {}
    for name, kind in DAILY_FIELDS.items():
        stale[name] = {FieldKind.INTEGER: 7, FieldKind.FLOAT: 1.5}.get(kind, "stale")
    return stale | {"day": "2026-11-24", "tz": "UTC", "overflowed": "total_count,samples"}


@pytest.mark.parametrize("measured", [True, False])
@pytest.mark.parametrize("overflow", [True, False])
def test_a_refresh_over_any_earlier_point_reads_as_the_refresh_alone(
    measured: bool, overflow: bool
) -> None:
    # InfluxDB merges a rewritten point field by field: what a refresh leaves out (null)
    # keeps the earlier value. Read back, the merged point must say what the refresh said.
    group = DayGroup("ent-01", date(2026, 11, 24), "UTC", ("press-1",))
    fields = _daily_fields(_sums_row(measured=measured, overflow=overflow), 1, 9_000, group)
    written = {name: value for name, value in fields.items() if value is not None}
    tags = {"platform": "p", "enterprise": "ent-01", "agent": "a", "device": "press-1"}
    tags["provenance"] = "measured"
    merged = daily_from_row({**_stale_point(), **written, **tags})
    assert merged == daily_from_row({**written, **tags})
    assert (merged.ideal_good_s, merged.energy_kwh is None) == (None, not measured)
    assert (merged.samples is None, bool(merged.overflowed)) == (overflow, overflow)
