"""The one list of base quantities (contract/quantities.py) against every place that names them.

Derived lists are held equal to what they were written out as (order included: the line
protocol text, the rollup SELECT and float summation follow it). Static classes (pydantic and
mypy need real fields) are checked field by field: each missing, extra or mistyped field is
named, so adding a quantity says where it still has to go.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from agent import kpi
from agent.importing import build, rows
from collector.evidence.daily import KPI_INPUTS, KPI_WEIGHT
from collector.evidence.document import DeviceDayDoc
from collector.evidence.inputs import DailySums, DeviceDay
from collector.store import DailyRow
from collector.store import schema as store_schema
from contract import quantities, wire
from contract.quantities import (
    BASE_QUANTITIES,
    DAY_SUMS,
    QUALITY_QUANTITIES,
    REFERENCE,
    STORED_SUMS,
    Quantity,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
_KIND = {"float": store_schema.FieldKind.FLOAT, "integer": store_schema.FieldKind.INTEGER}

_BASE_NAMES = (
    "scheduled_s",
    "planned_s",
    "run_s",
    "idle_s",
    "down_s",
    "off_s",
    "planned_stop_s",
    "total_count",
    "good_count",
    "reject_count",
    "energy_kwh",
    "ideal_good_s",
    "unobserved_count",
    "unsampled_run_s",
    "inferred_planned_s",
)
_QUALITY_NAMES = (
    "samples",
    "missed_polls",
    "bad_values",
    "comm_loss_s",
    "scheduled_comm_loss_s",
    "counter_resets",
    "meter_resets",
    "clock_jumps",
)

# --- derived lists equal what they were written out as -------------------------------------


def test_summed_fields_are_the_base_quantities_in_wire_order() -> None:
    assert wire.SUMMED_FIELDS == quantities.SUMMED_FIELDS == _BASE_NAMES
    assert tuple(q.name for q in QUALITY_QUANTITIES) == _QUALITY_NAMES
    assert quantities.STATE_TIMES == ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s")
    assert set(quantities.STATE_TIMES) <= set(quantities.BASE_TIMES)
    # The derived quantities are neither measured times nor counter roles.
    assert _BASE_NAMES[:7] == quantities.BASE_TIMES
    assert quantities.COUNTS == ("total_count", "good_count", "reject_count")


def test_every_name_is_unique_and_found_by_name() -> None:
    every = (*BASE_QUANTITIES, *REFERENCE, *QUALITY_QUANTITIES, *STORED_SUMS)
    assert len({q.name for q in every}) == len(every)
    for quantity in every:
        assert quantities.by_name(quantity.name) is quantity
        assert quantity.doc, quantity.name
    with pytest.raises(KeyError, match="no base quantity 'oee'"):
        quantities.by_name("oee")


def test_the_store_schema_keeps_its_order_and_kinds() -> None:
    f, i = store_schema.FieldKind.FLOAT, store_schema.FieldKind.INTEGER
    assert (*_BASE_NAMES[2:], "ideal_cycle_s") == store_schema.OPTIONAL_QUANTITIES
    assert list(store_schema.QUALITY_FIELDS.items()) == [
        (name, f if name.endswith("_s") else i) for name in _QUALITY_NAMES
    ]
    assert list(store_schema.WINDOW_FIELDS.items()) == [
        *((name, i if name.endswith("_count") else f) for name in _BASE_NAMES),
        ("ideal_cycle_s", f),
        ("ideal_count_s", f),
        ("duration_s", f),
        *store_schema.QUALITY_FIELDS.items(),
        ("partial", store_schema.FieldKind.BOOLEAN),
        ("config_digest", store_schema.FieldKind.STRING),
        ("seq", i),
        ("window_start_ms", i),
    ]


def test_the_agent_and_its_importer_count_and_time_the_same_quantities() -> None:
    counts = ("total_count", "good_count", "reject_count")
    assert rows.COUNT_ROLES == build._COUNTS == kpi._COUNTER_ROLES == counts
    assert _BASE_NAMES[:7] == build._SECONDS


def test_kpi_inputs_are_summed_quantities() -> None:
    summed = {q.name for q in (*BASE_QUANTITIES, *STORED_SUMS)}
    for kpi_name, inputs in KPI_INPUTS.items():
        assert set(inputs) <= summed, kpi_name
        assert KPI_WEIGHT[kpi_name] in inputs, kpi_name


def test_docs_kpi_table_lists_the_wire_quantities_in_order() -> None:
    text = (DOCS / "kpi.md").read_text(encoding="utf-8")
    section = text.split("## Base quantities per window", 1)[1].split("\n#", 1)[0]
    rows_named = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert rows_named == [q.name for q in (*BASE_QUANTITIES, *REFERENCE)]


# --- static classes checked field by field --------------------------------------------------


def _strip(annotation: object) -> tuple[frozenset[object], bool]:
    """(the base types, whether None is allowed) of an annotation, Annotated metadata dropped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _strip(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found: set[object] = set()
        nullable = False
        for arg in typing.get_args(annotation):
            if arg is type(None):
                nullable = True
                continue
            base, inner_nullable = _strip(arg)
            found |= base
            nullable |= inner_nullable
        return frozenset(found), nullable
    return frozenset({annotation}), False


def _declared(cls: type) -> dict[str, object]:
    """Field name → annotation, for a pydantic model, a dataclass or a Protocol of properties."""
    hints = typing.get_type_hints(cls, include_extras=True)
    if issubclass(cls, BaseModel):
        return {name: hints[name] for name in cls.model_fields}
    if dataclasses.is_dataclass(cls):
        return {field.name: hints[field.name] for field in dataclasses.fields(cls)}
    declared: dict[str, object] = {}
    for base in reversed(cls.__mro__):  # a Protocol's properties, its own overriding its bases'
        for name, value in vars(base).items():
            if isinstance(value, property) and value.fget is not None:
                declared[name] = typing.get_type_hints(value.fget)["return"]
    return declared or hints


def _expected(quantity: Quantity, *, in_a_day: bool) -> tuple[frozenset[object], bool]:
    base = frozenset({int if quantity.kind == "integer" else float})
    # A day's integer sum is also None when it passed int64 (it is named in ``overflowed``).
    nullable = quantity.optional or (in_a_day and quantity.kind == "integer")
    return base, nullable


def _shown(types_: frozenset[object], nullable: bool) -> str:
    names = sorted(getattr(t, "__name__", str(t)) for t in types_)
    return " | ".join([*names, "None"] if nullable else names)


def _problems(
    cls: type,
    wanted: dict[str, tuple[frozenset[object], bool]],
    bookkeeping: frozenset[str],
    *,
    subset: bool = False,
    widened: bool = False,
) -> list[str]:
    declared = _declared(cls)
    problems = []
    for name, (base, nullable) in wanted.items():
        if name not in declared:
            if not subset:
                problems.append(f"{cls.__name__}: missing {name} ({_shown(base, nullable)})")
            continue
        got_base, got_nullable = _strip(declared[name])
        # A reader may take an integer sum as a float (numpy adds them as floats).
        fits = got_base == base or (widened and base == {int} and got_base == {float})
        if not fits or got_nullable != nullable:
            problems.append(
                f"{cls.__name__}.{name}: declared {_shown(got_base, got_nullable)}, "
                f"expected {_shown(base, nullable)}"
            )
    for name in sorted(set(declared) - set(wanted) - bookkeeping):
        problems.append(f"{cls.__name__}: extra field {name} is no base quantity (or add it)")
    return problems


def _day_fields() -> dict[str, tuple[frozenset[object], bool]]:
    wanted = {
        q.name: _expected(q, in_a_day=True)
        for q in (*BASE_QUANTITIES, *STORED_SUMS, *QUALITY_QUANTITIES)
    }
    for q in REFERENCE:  # kept per day as its min and max, None when no window had it
        wanted[f"{q.name}_min"] = wanted[f"{q.name}_max"] = (frozenset({float}), True)
    return wanted


_DAY_BOOKKEEPING = frozenset(
    {
        "agent",
        "device",
        "provenance",
        "day",
        "windows",
        "partial_windows",
        "config_digests",
        "first_start",
        "last_end",
        "config_digest_first",
        "config_digest_last",
    }
)


def test_the_wire_window_carries_every_base_quantity_in_order() -> None:
    wanted = {q.name: _expected(q, in_a_day=False) for q in (*BASE_QUANTITIES, *REFERENCE)}
    bookkeeping = frozenset(
        {"kind", "device", "start", "end", "provenance", "partial", "config_digest", "quality"}
    )
    problems = _problems(wire.KpiWindow, wanted, bookkeeping)
    assert not problems, "\n".join(problems)
    order = [name for name in wire.KpiWindow.model_fields if name in wanted]
    assert order == list(wanted)


def test_the_wire_quality_carries_every_quality_quantity_in_order() -> None:
    wanted = {q.name: _expected(q, in_a_day=False) for q in QUALITY_QUANTITIES}
    problems = _problems(wire.DataQuality, wanted, frozenset())
    assert not problems, "\n".join(problems)
    assert list(wire.DataQuality.model_fields) == list(wanted)


def test_day_sums_are_the_stores_summable_fields_with_exact_milliseconds() -> None:
    f = store_schema.FieldKind.FLOAT
    named = [
        ("duration_s", f) if q.name == "duration_ms" else (q.name, _KIND[q.kind]) for q in DAY_SUMS
    ]
    assert named == list(store_schema.SUMMABLE_FIELDS.items())
    assert quantities.by_name("duration_s").kind == "float"


def test_the_day_seals_sums_carry_every_day_sum_in_order() -> None:
    wanted = {q.name: _expected(q, in_a_day=True) for q in DAY_SUMS}
    # Exact milliseconds never pass int64 (that is 290 million years of windows): never null.
    wanted["duration_ms"] = (frozenset({int}), False)
    problems = _problems(wire.DaySums, wanted, frozenset())
    assert not problems, "\n".join(problems)
    assert list(wire.DaySums.model_fields) == list(wanted)


@pytest.mark.parametrize("cls", [DailyRow, DeviceDayDoc, DailySums], ids=lambda c: c.__name__)
def test_a_day_of_sums_carries_every_quantity(cls: type) -> None:
    bookkeeping = _DAY_BOOKKEEPING
    if cls is DailyRow:  # the store's row also says where it is and what it could not sum
        bookkeeping |= {"platform", "enterprise", "tz", "measured_windows", "overflowed"}
    problems = _problems(cls, _day_fields(), bookkeeping)
    assert not problems, "\n".join(problems)


def test_the_kpis_device_day_is_a_subset_with_the_same_types() -> None:
    problems = _problems(DeviceDay, _day_fields(), _DAY_BOOKKEEPING, subset=True, widened=True)
    assert not problems, "\n".join(problems)
    declared = set(_declared(DeviceDay))
    needed = {name for inputs in KPI_INPUTS.values() for name in inputs}
    assert needed <= declared, sorted(needed - declared)


def test_a_missing_or_mistyped_field_is_named() -> None:
    # The checker itself: a class that lost a quantity and typed another wrong says which.
    class Short:
        run_s: float
        good_count: int | None

    wanted: dict[str, tuple[frozenset[object], bool]] = {
        "run_s": (frozenset({float}), True),
        "good_count": (frozenset({int}), True),
    }
    wanted["idle_s"] = (frozenset({float}), True)
    assert _problems(Short, wanted, frozenset()) == [
        "Short.run_s: declared float, expected float | None",
        "Short: missing idle_s (float | None)",
    ]
