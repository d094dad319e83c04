"""collector.store.lines and records: line protocol text, escaping, one type per field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.store.lines import (
    FieldValue,
    encode_line,
    escape_key,
    escape_measurement,
    format_field_value,
)
from collector.store.records import (
    WindowRecord,
    from_ms,
    to_ms,
    window_fields,
    window_line,
    window_records,
    window_tags,
)
from collector.store.schema import KPI_WINDOW, SUMMABLE_FIELDS, WINDOW_FIELDS, FieldKind
from contract import wire
from tests.collector.store_helpers import record, window
from tests.contract.test_wire import KEY
from tests.contract.wire_strategies import envelopes, identifiers, kpi_windows

END = datetime(2026, 11, 25, 8, 1, tzinfo=UTC)


def test_names_and_tag_values_escape_commas_equals_and_spaces() -> None:
    assert escape_measurement("kpi window,x") == "kpi\\ window\\,x"
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    line = encode_line("m", {"t y": "v,1=2"}, {"f x": 1.0}, 5, {"f x": FieldKind.FLOAT})
    assert line == "m,t\\ y=v\\,1\\=2 f\\ x=1.0 5"


@pytest.mark.parametrize("bad", ["", "a\nb", "a\\b", "a\rb"])
def test_unescapable_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="tag"):
        encode_line("m", {"t": bad}, {"f": 1.0}, 5, {"f": FieldKind.FLOAT})


def test_string_fields_escape_quotes_and_backslashes() -> None:
    assert format_field_value(FieldKind.STRING, 'say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    with pytest.raises(ValueError, match="newline"):
        format_field_value(FieldKind.STRING, "two\nlines")


def test_the_declared_kind_decides_the_type_not_the_python_value() -> None:
    # 60 read back from a float field must go out as a float again: a type conflict would
    # make InfluxDB refuse the batch.
    assert format_field_value(FieldKind.FLOAT, 60) == "60.0"
    assert format_field_value(FieldKind.FLOAT, 1e-7) == "1e-07"
    assert format_field_value(FieldKind.INTEGER, 7) == "7i"
    assert format_field_value(FieldKind.BOOLEAN, False) == "false"
    cases: list[tuple[FieldKind, FieldValue]] = [
        (FieldKind.INTEGER, 1.5),
        (FieldKind.INTEGER, True),
        (FieldKind.INTEGER, 2**63),
        (FieldKind.FLOAT, float("nan")),
        (FieldKind.FLOAT, "1"),
        (FieldKind.BOOLEAN, 1),
    ]
    for kind, value in cases:
        with pytest.raises(ValueError):
            format_field_value(kind, value)


def test_none_fields_are_left_out_and_a_point_needs_a_field() -> None:
    kinds = {"a": FieldKind.FLOAT, "b": FieldKind.INTEGER}
    assert encode_line("m", {}, {"a": None, "b": 3}, 9, kinds) == "m b=3i 9"
    with pytest.raises(ValueError, match="at least one field"):
        encode_line("m", {}, {"a": None}, 9, kinds)
    with pytest.raises(ValueError, match="not in the schema"):
        encode_line("m", {}, {"c": 1}, 9, kinds)


def test_a_window_line_has_identity_tags_typed_fields_and_its_end_in_ms() -> None:
    line = window_line(record(window(END), seq=42))
    head, fields, timestamp = line.split(" ")
    assert head == (
        "kpi_window,agent=gw-01,device=press-1,enterprise=ent-01,platform=plat-a,"
        "provenance=measured"
    )
    assert timestamp == str(to_ms(END)) == "1795593660000"
    values = dict(field.split("=", 1) for field in fields.split(","))
    assert values["total_count"] == "10i"
    assert values["run_s"] == "45.0"
    assert values["ideal_count_s"] == "40.0"  # 4 s x 10 parts: Σ of it is the P numerator
    assert values["partial"] == "false"
    assert values["seq"] == "42i"
    assert values["window_start_ms"] == f"{to_ms(END) - 60_000}i"
    assert values["config_digest"].startswith('"sha256:')
    assert set(values) == set(WINDOW_FIELDS)


def test_parts_counted_across_comm_loss_are_left_out_of_the_performance_numerator() -> None:
    win = window(END, total_count=10, good_count=9, reject_count=1, unobserved_count=3)
    fields = window_fields(record(win))
    assert fields["ideal_count_s"] == 4.0 * 7  # 3 of the 10 parts were made while unobserved
    assert fields["total_count"] == 10  # but every part is counted
    values = dict(
        field.split("=", 1) for field in window_line(record(win)).split(" ")[1].split(",")
    )
    assert values["ideal_count_s"] == "28.0" and values["unobserved_count"] == "3i"


def test_unmeasured_quantities_are_omitted_and_ideal_count_needs_both_factors() -> None:
    win = window(END, run_s=None, total_count=None, energy_kwh=None, ideal_cycle_s=4.0)
    fields = {k: v for k, v in window_fields(record(win)).items() if v is not None}
    assert "run_s" not in fields
    assert "total_count" not in fields
    assert "ideal_count_s" not in fields
    assert "energy_kwh" not in fields
    assert fields["ideal_cycle_s"] == 4.0


def test_every_summable_field_is_numeric_and_excludes_identities() -> None:
    assert "seq" not in SUMMABLE_FIELDS
    assert "ideal_cycle_s" not in SUMMABLE_FIELDS
    assert all(kind in (FieldKind.FLOAT, FieldKind.INTEGER) for kind in SUMMABLE_FIELDS.values())
    assert KPI_WINDOW == "kpi_window"


def test_ms_conversions_are_exact() -> None:
    moment = datetime(2026, 11, 25, 8, 1, 2, 345_000, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment
    assert from_ms(-1) == datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    kpi_windows(),
    identifiers,
    identifiers,
    identifiers,
    st.integers(min_value=1, max_value=wire.MAX_SEQ),
)
def test_the_window_fast_path_writes_what_the_general_encoder_writes(
    win: wire.KpiWindow, platform: str, enterprise: str, agent: str, seq: int
) -> None:
    # window_line skips encode_line's per-value checks for validated windows; same text.
    item = WindowRecord(platform, enterprise, agent, seq, win)
    general = encode_line(
        KPI_WINDOW, window_tags(item), window_fields(item), to_ms(win.end), WINDOW_FIELDS
    )
    assert window_line(item) == general


def test_the_window_fast_path_still_refuses_what_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="int64"):
        window_line(record(window(END), seq=2**63))
    with pytest.raises(ValueError, match="tag"):
        window_line(WindowRecord("plat a\\", "ent-01", "gw-01", 1, window(END)))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes(KEY))
def test_a_received_window_writes_what_its_pydantic_twin_writes(envelope: wire.Envelope) -> None:
    # Ingest writes the compiled codec's Structs (times as wire text); same line, same days.
    received = wire.decode_windows(wire.encode(envelope))
    for twin, item in zip(window_records(envelope), window_records(received), strict=True):
        assert isinstance(item.window, wire.ReceivedWindow)
        assert window_line(item) == window_line(twin)
        assert window_fields(item) == window_fields(twin)
        assert item.window_end == twin.window_end == twin.window.end
