"""A device-day's sums (contract/daysums.py): accumulated in any order, compared within τ.

The central property: the same windows ledgered in any order give parts whose integers are
equal and whose float sums lie within :func:`float_tolerance` of each other (never a false
alarm, magnitudes from subnormals to 1e12), while an edit worth making is always flagged.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.evidence.document import DeviceDayDoc
from collector.store import DailyRow
from contract import merkle
from contract.daysums import (
    FIGURES,
    DayAccumulator,
    compare,
    decode_record,
    float_tolerance,
    ideal_count_s,
    part_from,
    row_figures,
)
from contract.quantities import DAY_SUMS_ABSENT_IS_NULL
from contract.wire import (
    MAX_COUNT,
    DataQuality,
    DaySealPart,
    KpiWindow,
    ReceivedWindow,
    canonical_bytes,
    config_digest,
)
from contract.wire._codec import has_negative_zero, has_tiny_float
from tests.contract.wire_strategies import kpi_windows

DAY = datetime(2026, 11, 24, 16, tzinfo=UTC)  # local midnight in Shanghai
DIGEST_A = config_digest(b"a")
DIGEST_B = config_digest(b"b")


def _window(
    i: int,
    *,
    length_s: int = 60,
    run_s: float | None = 30.0,
    energy_kwh: float | None = 1.5,
    ideal_good_s: float | None = 20.0,
    total_count: int | None = 10,
    digest: str = DIGEST_A,
    provenance: str = "measured",
    device: str = "press-1",
) -> KpiWindow:
    start = DAY + timedelta(seconds=length_s * i)
    return KpiWindow.model_validate(
        {
            "device": device,
            "start": start,
            "end": start + timedelta(seconds=length_s),
            "provenance": provenance,
            "config_digest": digest,
            "scheduled_s": float(length_s),
            "planned_s": float(length_s),
            "run_s": run_s,
            "idle_s": None,
            "down_s": 0.0,
            "off_s": None,
            "planned_stop_s": None,
            "total_count": total_count,
            "good_count": total_count,
            "reject_count": 0,
            "energy_kwh": energy_kwh,
            "ideal_good_s": ideal_good_s,
            "unobserved_count": None,
            "ideal_cycle_s": 2.0,
            "quality": DataQuality(
                samples=60,
                missed_polls=0,
                bad_values=0,
                comm_loss_s=0.0,
                scheduled_comm_loss_s=0.0,
                counter_resets=0,
                meter_resets=0,
                clock_jumps=0,
            ),
        }
    )


def _part(windows: list[KpiWindow]) -> DayAccumulator:
    accumulator = DayAccumulator()
    for seq, window in enumerate(windows, start=1):
        accumulator.add(window, seq)
    return accumulator


# -- what a part holds -------------------------------------------------------------------------


def test_a_part_sums_its_windows_and_commits_to_their_bytes_in_ledger_order() -> None:
    windows = [_window(0), _window(1, run_s=None, digest=DIGEST_B), _window(2, energy_kwh=None)]
    windows[1] = windows[1].model_copy(update={"partial": True})
    part = part_from(_part(windows))
    assert (part.windows, part.partial_windows) == (3, 1)
    assert (part.seq_first, part.seq_last) == (1, 3)
    assert part.first_start == DAY and part.last_end == DAY + timedelta(minutes=3)
    assert part.sums.run_s == 60.0 and part.measured_windows["run_s"] == 2
    assert part.sums.energy_kwh == 3.0 and part.measured_windows["energy_kwh"] == 2
    assert part.sums.duration_ms == 180_000 and part.sums.total_count == 30
    assert part.sums.ideal_count_s == 3 * 2.0 * 10
    assert part.config_digests == sorted([DIGEST_A, DIGEST_B]) and part.config_digest_count == 2
    assert (part.config_digest_first, part.config_digest_last) == (DIGEST_A, DIGEST_A)
    assert part.measured_windows["idle_s"] == 0 and part.sums.idle_s is None
    records = [canonical_bytes(w.model_dump(mode="json")) for w in windows]
    assert part.merkle_root == merkle.root(records).hex()


def test_a_record_given_as_bytes_is_the_same_leaf_and_must_be_canonical() -> None:
    window = _window(0)
    record = canonical_bytes(window.model_dump(mode="json"))
    from_bytes = DayAccumulator()
    from_bytes.add_record(record, 7)
    assert part_from(from_bytes) == part_from(_accumulate_one(window, 7))
    with pytest.raises(ValueError, match="not a window's canonical bytes"):
        DayAccumulator().add_record(record.replace(b'"run_s":30.0', b'"run_s":30.00'), 7)


def _accumulate_one(window: KpiWindow, seq: int) -> DayAccumulator:
    accumulator = DayAccumulator()
    accumulator.add(window, seq)
    return accumulator


def test_windows_go_in_seq_end_start_order_and_belong_to_one_device_and_provenance() -> None:
    accumulator = _accumulate_one(_window(1), 5)
    with pytest.raises(ValueError, match=r"added after \(seq 5, .*\(seq, end, start\) order"):
        accumulator.add(_window(2), 4)
    with pytest.raises(ValueError, match="added after"):
        accumulator.add(_window(0), 5)
    with pytest.raises(ValueError, match="window of press-2/measured added to the part of"):
        accumulator.add(_window(3, device="press-2"), 6)
    with pytest.raises(ValueError, match="press-1/imported added to the part of press-1/measured"):
        accumulator.add(_window(3, provenance="imported"), 6)
    accumulator.add(_window(0), 6)  # a late window: a larger seq, an earlier time
    part = part_from(accumulator)
    assert (part.seq_first, part.seq_last, part.first_start) == (5, 6, DAY)


def test_an_empty_part_cannot_be_sealed() -> None:
    with pytest.raises(ValueError, match="at least one window"):
        part_from(DayAccumulator())


def test_integer_sums_past_int64_are_null_and_named_as_the_rollup_writes_them() -> None:
    part = part_from(_part([_window(0, total_count=MAX_COUNT), _window(1, total_count=1)]))
    assert part.overflowed == ["total_count", "good_count"]  # good = total in these windows
    assert part.sums.total_count is None and part.sums.good_count is None
    assert part.sums.reject_count == 0
    assert compare(part, row_figures(part) | {"overflowed": ("total_count",)}) != []


def test_first_and_last_digest_follow_window_end_not_arrival() -> None:
    accumulator = DayAccumulator()
    accumulator.add(_window(5, digest=DIGEST_B), 1)
    accumulator.add(_window(0, digest=DIGEST_A), 2)  # late, but the day's first window
    part = part_from(accumulator)
    assert (part.config_digest_first, part.config_digest_last) == (DIGEST_A, DIGEST_B)


# -- row figures -------------------------------------------------------------------------------


def test_row_figures_are_named_as_the_store_and_the_document_name_them() -> None:
    row_fields = {f.name for f in dataclasses.fields(DailyRow)}
    assert set(FIGURES) <= row_fields, set(FIGURES) - row_fields
    doc_fields = set(DeviceDayDoc.model_fields)
    assert set(FIGURES) - {"measured_windows", "overflowed"} <= doc_fields


def test_row_figures_apply_the_rollups_rules() -> None:
    part = part_from(_part([_window(0), _window(1, ideal_good_s=None)]))
    figures = row_figures(part)
    assert list(figures) == list(FIGURES)
    assert figures["duration_s"] == 120.0
    assert figures["ideal_good_s"] is None  # carried by 1 of the 2 windows with good_count
    assert part.sums.ideal_good_s == 20.0  # the seal keeps what was sent
    assert figures["config_digests"] == 1
    assert compare(part, figures) == []


def test_ideal_count_s_is_the_ideal_cycle_times_the_observed_parts() -> None:
    window = _window(0).model_copy(update={"unobserved_count": 4})
    assert ideal_count_s(window) == 2.0 * 6
    assert ideal_count_s(_window(0, total_count=None)) is None


# -- comparing ---------------------------------------------------------------------------------


def test_compare_names_each_field_that_differs_with_both_values() -> None:
    part = part_from(_part([_window(i) for i in range(4)]))
    stored = row_figures(part) | {"run_s": 121.0, "good_count": 39, "last_end": DAY}
    stored["measured_windows"] = {**stored["measured_windows"], "run_s": 3}
    differences = {d.field: (d.stored, d.sealed) for d in compare(part, stored)}
    assert differences == {
        "run_s": (121.0, 120.0),
        "good_count": (39, 40),
        "last_end": (DAY, DAY + timedelta(minutes=4)),
        "run_s_windows": (3, 4),
    }


def test_a_figure_missing_from_the_stored_row_is_an_error_unless_the_doc_lacks_it() -> None:
    part = part_from(_part([_window(0)]))
    figures = row_figures(part)
    del figures["measured_windows"], figures["overflowed"]
    assert compare(part, figures) == []
    del figures["run_s"]
    with pytest.raises(KeyError, match="the stored figures have no 'run_s'"):
        compare(part, figures)


def test_null_against_a_value_differs_and_zero_sums_are_exact() -> None:
    part = part_from(_part([_window(0, energy_kwh=0.0), _window(1, energy_kwh=0.0)]))
    assert compare(part, row_figures(part) | {"energy_kwh": 0.0}) == []
    assert [d.field for d in compare(part, row_figures(part) | {"energy_kwh": None})] == [
        "energy_kwh"
    ]
    assert [d.field for d in compare(part, row_figures(part) | {"energy_kwh": 5e-324})] == [
        "energy_kwh"
    ]


def test_float_tolerance_is_the_derived_bound_exactly() -> None:
    assert float_tolerance(1, 5.0, 7.0) == 0  # one term: no addition, nothing rounds
    u = Fraction(1, 2**53)
    gamma = 1439 * u / (1 - 1439 * u)
    assert float_tolerance(1440, 86_400.0, 1.0) == 2 * gamma / (1 - gamma) * 86_400
    assert float(float_tolerance(1440, 86_400.0, 86_400.0)) == pytest.approx(2.76e-8, rel=0.01)
    assert float_tolerance(3, 1.0, 2.0) == float_tolerance(3, 2.0, 1.0)
    with pytest.raises(ValueError, match="a sum of 0 terms"):
        float_tolerance(0, 1.0, 1.0)


# -- properties --------------------------------------------------------------------------------

# Timing is no property: the machine is shared, so neither hypothesis's per-example deadline
# nor its slow-generation health check (both wall-clock checks) may fail these tests.
UNTIMED: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

_magnitudes = st.one_of(
    st.floats(min_value=0.0, max_value=1e-300),  # subnormals included
    st.floats(min_value=1e-300, max_value=1e12),
    st.sampled_from([0.0, 5e-324, 0.1, 1e12]),
)


@st.composite
def _day_windows(draw: st.DrawFn) -> list[KpiWindow]:
    count = draw(st.integers(min_value=1, max_value=40))
    return [
        _window(
            i,
            run_s=draw(st.none() | st.floats(min_value=0.0, max_value=60.0)),
            energy_kwh=draw(st.none() | _magnitudes),
            ideal_good_s=draw(st.none() | _magnitudes),
            total_count=draw(st.none() | st.integers(0, 2**62)),
            digest=draw(st.sampled_from([DIGEST_A, DIGEST_B])),
        )
        for i in range(count)
    ]


@settings(max_examples=150, **UNTIMED)
@given(_day_windows(), st.randoms(use_true_random=False))
def test_no_ledger_order_is_ever_flagged(windows: list[KpiWindow], rng: random.Random) -> None:
    shuffled = list(windows)
    rng.shuffle(shuffled)
    first, second = part_from(_part(windows)), part_from(_part(shuffled))
    assert compare(first, row_figures(second)) == []
    assert compare(second, row_figures(first)) == []
    for name in ("total_count", "duration_ms", "samples"):
        assert getattr(first.sums, name) == getattr(second.sums, name)


def test_a_millisecond_or_a_millisecond_of_run_time_in_a_1440_window_day_is_flagged() -> None:
    windows = [_window(i, run_s=30.0 + (i % 7) / 7) for i in range(1440)]
    part = part_from(_part(windows))
    longer = [*windows[:700], _window(700, run_s=30.0 + (700 % 7) / 7 + 1e-3), *windows[701:]]
    assert [d.field for d in compare(part, row_figures(part_from(_part(longer))))] == ["run_s"]
    last = windows[-1]
    stretched = last.model_copy(update={"end": last.end + timedelta(milliseconds=1)})
    differences = compare(part, row_figures(part_from(_part([*windows[:-1], stretched]))))
    assert [d.field for d in differences] == ["last_end", "duration_s"]


# -- a record read by the compiled codec or by the model ---------------------------------------


@settings(max_examples=200, **UNTIMED)
@given(st.lists(kpi_windows(), min_size=1, max_size=12), st.sampled_from(["measured", "imported"]))
def test_a_record_read_by_the_compiled_codec_adds_what_the_model_adds(
    windows: list[KpiWindow], provenance: str
) -> None:
    update = {"device": "press-1", "provenance": provenance}
    ordered = sorted(
        (window.model_copy(update=update) for window in windows), key=lambda w: (w.end, w.start)
    )
    by_model, by_record = DayAccumulator(), DayAccumulator()
    for seq, window in enumerate(ordered, start=1):
        record = canonical_bytes(window.model_dump(mode="json"))
        if not has_tiny_float(record) and not has_negative_zero(record):
            assert isinstance(decode_record(record), ReceivedWindow)  # the compiled way
        by_model.add(window, seq)
        by_record.add_record(record, seq)
    assert by_record.to_json() == by_model.to_json()
    assert part_from(by_record) == part_from(by_model)


@settings(max_examples=100, **UNTIMED)
@given(_day_windows())
def test_a_days_records_add_what_its_models_add_down_to_subnormals(
    windows: list[KpiWindow],
) -> None:
    by_record = DayAccumulator()
    for seq, window in enumerate(windows, start=1):
        by_record.add_record(canonical_bytes(window.model_dump(mode="json")), seq)
    assert by_record.to_json() == _part(windows).to_json()
    assert part_from(by_record) == part_from(_part(windows))


def _bent(record: bytes) -> list[bytes]:
    state = json.loads(record)
    return [
        record.replace(b'"run_s":30.0', b'"run_s":30'),  # an int where the model has a float
        record.replace(b'"energy_kwh":1.5', b'"energy_kwh":0.00001'),  # msgspec's 1e-05
        record.replace(b",", b", ", 1),
        record + b"\n",
        json.dumps(dict(reversed(state.items())), separators=(",", ":")).encode(),  # unsorted
        canonical_bytes({**state, "run_s": 61.0}),  # longer than the window
        canonical_bytes({**state, "extra": 1}),
    ]


def test_the_compiled_codec_refuses_what_the_exact_way_refuses() -> None:
    record = canonical_bytes(_window(0).model_dump(mode="json"))
    assert isinstance(decode_record(record), ReceivedWindow)
    for bent in _bent(record):
        assert bent != record
        with pytest.raises(ValueError):
            DayAccumulator().add_record(bent, 1)


@pytest.mark.parametrize(("energy_kwh", "text"), [(1e-05, b"1e-05"), (-0.0, b"-0.0")])
def test_a_float_msgspec_writes_otherwise_goes_the_exact_way(
    energy_kwh: float, text: bytes
) -> None:
    # -0.0 is taken as before the compiled codec was used here: the model takes it (the
    # collector's decoder refuses it; the agent's KPI engine never writes it, agent/kpi.py).
    window = _window(0, energy_kwh=energy_kwh)
    record = canonical_bytes(window.model_dump(mode="json"))
    assert b'"energy_kwh":' + text in record
    assert isinstance(decode_record(record), KpiWindow)
    by_record = DayAccumulator()
    by_record.add_record(record, 1)
    assert part_from(by_record) == part_from(_accumulate_one(window, 1))


# -- the state the agent keeps between batches ------------------------------------------------


@settings(max_examples=100, **UNTIMED)
@given(_day_windows(), st.data())
def test_a_part_kept_between_batches_seals_as_if_never_put_down(
    windows: list[KpiWindow], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(windows)), label="cut")
    kept = DayAccumulator()
    for seq, window in enumerate(windows[:cut], start=1):
        kept.add(window, seq)
    restored = DayAccumulator.from_json(kept.to_json())
    assert restored.to_json() == kept.to_json()
    for seq, window in enumerate(windows[cut:], start=cut + 1):
        restored.add(window, seq)
    whole = _part(windows)
    assert restored.to_json() == whole.to_json()
    assert part_from(restored) == part_from(whole)


def test_a_state_with_a_sum_that_is_not_finite_is_not_written() -> None:
    accumulator = _accumulate_one(_window(0), 1)
    accumulator.sums["energy_kwh"] = float("inf")
    with pytest.raises(ValueError, match="not finite"):
        accumulator.to_json()


def test_a_restored_part_still_refuses_a_window_out_of_order() -> None:
    restored = DayAccumulator.from_json(_accumulate_one(_window(1), 5).to_json())
    with pytest.raises(ValueError, match="added after"):
        restored.add(_window(2), 4)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (b"[]", "not a day accumulator's state"),
        (b"{}", "not a day accumulator's state: 'device'"),
        (b"not json", "not a day accumulator's state"),
    ],
)
def test_a_state_that_is_not_ours_is_refused(state: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DayAccumulator.from_json(state)


def test_a_state_whose_tree_and_count_disagree_is_refused() -> None:
    state = json.loads(_part([_window(0), _window(1)]).to_json())
    state["windows"] = 3
    with pytest.raises(ValueError, match="3 windows, 2 Merkle leaves"):
        DayAccumulator.from_json(json.dumps(state).encode())
    state = json.loads(_part([_window(0)]).to_json())
    del state["sums"]["run_s"]
    with pytest.raises(ValueError, match="its sums or counts are not ours"):
        DayAccumulator.from_json(json.dumps(state).encode())


def test_a_store_row_built_from_the_seal_compares_equal_field_by_field() -> None:
    """The collector compares a DailyRow as is (dataclasses.asdict): the names line up."""
    part = part_from(_part([_window(i, digest=(DIGEST_A, DIGEST_B)[i % 2]) for i in range(5)]))
    identity: dict[str, Any] = {
        "platform": "plat-a",
        "enterprise": "ent-01",
        "agent": "gw-01",
        "device": "press-1",
        "provenance": "measured",
        "day": DAY.date(),
        "tz": "Asia/Shanghai",
    }
    row = DailyRow(**identity, **row_figures(part))
    assert compare(part, dataclasses.asdict(row)) == []
    edited = dataclasses.replace(row, planned_s=row.planned_s + 1.0, config_digests=1)
    assert [d.field for d in compare(part, dataclasses.asdict(edited))] == [
        "config_digests",
        "planned_s",
    ]


def test_an_old_agents_kept_part_resumes_and_its_seal_checks_equal_against_todays_row() -> None:
    """A part an agent kept before inferred_planned_s existed (no sum, no count for it) resumes
    after the update, and a seal made before it compares equal with the row today's collector
    stores from the same windows (their sum null, counted in 0 windows)."""
    state = json.loads(_part([_window(0)]).to_json())
    for name in DAY_SUMS_ABSENT_IS_NULL:
        del state["sums"][name], state["measured"][name]
    restored = DayAccumulator.from_json(json.dumps(state).encode())
    restored.add(_window(1), 2)
    assert part_from(restored) == part_from(_part([_window(0), _window(1)]))
    part = part_from(_part([_window(i) for i in range(3)]))
    old = part.model_dump(mode="json")
    for name in DAY_SUMS_ABSENT_IS_NULL:
        del old["measured_windows"][name]
    before = DaySealPart.model_validate(old)
    row = DailyRow(
        platform="plat-a", enterprise="ent-01", agent="gw-01", device="press-1",
        provenance="measured", day=DAY.date(), tz="Asia/Shanghai", **row_figures(part),
    )  # fmt: skip
    assert row.inferred_planned_s is None and row.measured_windows["inferred_planned_s"] == 0
    assert compare(before, dataclasses.asdict(row)) == []
    edited = dataclasses.replace(row, inferred_planned_s=60.0)
    assert [d.field for d in compare(before, dataclasses.asdict(edited))] == ["inferred_planned_s"]
