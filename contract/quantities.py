"""The base quantities, once: name, unit, kind, how each combines, whether a device may lack it.

Every KPI is a ratio of sums of these (docs/kpi.md, ISO 22400-2). The lists here are the one
definition; the rest of the code derives from them or is checked against them:

- derived (plain data): :data:`contract.wire.SUMMED_FIELDS` and the window's state-time check,
  the InfluxDB field kinds and lists in :mod:`collector.store.schema`, the importer's seconds
  and counts, the bench scripts' lists;
- checked by tests/contract/test_quantities.py (static classes, so pydantic and mypy see real
  fields): the wire's ``KpiWindow`` and ``DataQuality``, ``collector.store.DailyRow``, the
  evidence engine's ``DeviceDay`` and ``DailySums`` and the document's ``DeviceDayDoc``.

Adding a quantity is one line here plus a field in each of those classes (the test names each
one missing) and its tests. **Order matters**: the line protocol text, the rollup SELECT and
float summation follow the order of these tuples; append, never reorder. A quantity added to
the wire after agents are in the field is ``absent_is_null`` (docs/wire-contract.md, "Adding
a quantity"), so that the agents already out there keep being heard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ABSENT_IS_NULL",
    "BASE_QUANTITIES",
    "BASE_TIMES",
    "COUNTS",
    "DAY_SUMS",
    "DAY_SUMS_ABSENT_IS_NULL",
    "QUALITY_QUANTITIES",
    "REFERENCE",
    "STATE_TIMES",
    "STORED_SUMS",
    "SUMMED_FIELDS",
    "Combine",
    "Kind",
    "Quantity",
    "Unit",
    "by_name",
]

#: s: seconds; parts: produced items; kWh: electrical energy; count: events or samples;
#: ms: milliseconds (a day seal's exact duration).
Unit = Literal["s", "parts", "kWh", "count", "ms"]
#: The wire type and the InfluxDB field kind (a field's kind never changes: docs/storage.md).
Kind = Literal["float", "integer"]
#: How windows combine over time and devices: summed, or kept as the day's min and max.
Combine = Literal["sum", "min_max"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """One quantity a window carries; its unit is also in its name (``run_s``, ``energy_kwh``).

    ``optional``: None on the wire when the device lacks the signal (never 0), and None in a
    day's sums when no window of the day measured it.
    """

    name: str
    unit: Unit
    kind: Kind
    combine: Combine
    optional: bool
    doc: str
    #: Computed by the agent from the window's other quantities and its ideal cycle, not read
    #: from a device: not a state time nor a counter role (left out of BASE_TIMES and COUNTS).
    derived: bool = False
    #: Added to the wire after v1's agents were released: a window without the key means
    #: None, and None is written by leaving the key out, so older agents' windows stay
    #: canonical (docs/wire-contract.md, "Adding a quantity"). Only optional quantities.
    absent_is_null: bool = False

    def __post_init__(self) -> None:
        if self.absent_is_null and not self.optional:
            raise ValueError(f"{self.name}: only an optional quantity can be absent_is_null")


def _seconds(name: str, doc: str, *, optional: bool = True) -> Quantity:
    return Quantity(name, "s", "float", "sum", optional, doc)


def _parts(name: str, doc: str) -> Quantity:
    return Quantity(name, "parts", "integer", "sum", True, doc)


def _events(name: str, doc: str) -> Quantity:
    return Quantity(name, "count", "integer", "sum", False, doc)


#: Per window, on the wire, summed over time and devices. The order is the wire's, the line
#: protocol's and the rollup's (keep it).
BASE_QUANTITIES: tuple[Quantity, ...] = (
    _seconds(
        "scheduled_s", "time the device's calendar plans for production (POT)", optional=False
    ),
    _seconds(
        "planned_s",
        "scheduled time not in planned stop, plus running outside it (PBT)",
        optional=False,
    ),
    _seconds("run_s", "time in state running (APT)"),
    _seconds("idle_s", "time in state idle: ready, not producing"),
    _seconds("down_s", "time in state down: failure, unplanned stop (ADOT)"),
    _seconds("off_s", "time in state off"),
    _seconds(
        "planned_stop_s", "time in state planned_stop: maintenance, declared changeover (PDOT)"
    ),
    _parts("total_count", "parts completed (PQ)"),
    _parts("good_count", "parts that passed (GQ)"),
    _parts("reject_count", "parts rejected: scrap and rework"),
    Quantity("energy_kwh", "kWh", "float", "sum", True, "electrical energy consumed"),
    Quantity(
        "ideal_good_s",
        "s",
        "float",
        "sum",
        True,
        "ideal_cycle_s x good parts counted in observed time: fully productive time, the "
        "OEE numerator (ISO 22400-2)",
        derived=True,
    ),
    Quantity(
        "unobserved_count",
        "parts",
        "integer",
        "sum",
        True,
        "the part of total_count first counted after a comm-loss gap (made while unobserved): "
        "kept out of performance and OEE",
        derived=True,
    ),
    Quantity(
        "unsampled_run_s",
        "s",
        "float",
        "sum",
        True,
        "run time the polls may have missed: per poll interval held in a state other than "
        "running over which the parts counter advanced by n, min(interval, ideal_cycle_s x n) "
        "(the whole interval without an ideal cycle); the bound of count_faster_than_ideal",
        derived=True,
        absent_is_null=True,
    ),
    Quantity(
        "inferred_planned_s",
        "s",
        "float",
        "sum",
        True,
        "the part of planned_s whose state was inferred (power, run signal, counter activity), "
        "not read from a state code: inference never says down, so unplanned downtime is "
        "measured only over planned_s - inferred_planned_s (docs/kpi.md); absent means none "
        "was inferred",
        derived=True,
        absent_is_null=True,
    ),
)

#: Per window, on the wire, not summed: the device's configured ideal cycle time (PRI).
REFERENCE: tuple[Quantity, ...] = (
    Quantity(
        "ideal_cycle_s", "s", "float", "min_max", True, "the configured ideal cycle time (PRI)"
    ),
)

#: Per window, on the wire under ``quality``: how much of the window rests on good data.
QUALITY_QUANTITIES: tuple[Quantity, ...] = (
    _events("samples", "polls that gave a usable sample"),
    _events("missed_polls", "polls that got no answer"),
    _events("bad_values", "values refused as out of range or unreadable"),
    _seconds("comm_loss_s", "time with no usable state", optional=False),
    _seconds("scheduled_comm_loss_s", "the part of comm_loss_s inside scheduled_s", optional=False),
    _events("counter_resets", "production counters that went back"),
    _events("meter_resets", "energy meters that went back"),
    _events("clock_jumps", "steps of the agent's wall clock"),
)

#: Written by the store beside the base quantities, summed by the rollups (not on the wire).
STORED_SUMS: tuple[Quantity, ...] = (
    _seconds(
        "ideal_count_s",
        "ideal_cycle_s x (total_count - unobserved_count): the performance numerator",
    ),
    _seconds("duration_s", "end - start: summed, the time the day's windows cover", optional=False),
)

#: What a day seal sums per (device, day, provenance) (``contract.wire.DaySums``,
#: :mod:`contract.daysums`): the store's summable fields in their order (base quantities,
#: the stored sums, quality), with the duration as exact integer milliseconds where the store
#: keeps float seconds (``duration_s`` is compared against ``duration_ms / 1000``).
#: tests/contract/test_quantities.py holds it to ``collector.store.schema.SUMMABLE_FIELDS``.
DAY_SUMS: tuple[Quantity, ...] = (
    *BASE_QUANTITIES,
    *(q for q in STORED_SUMS if q.name != "duration_s"),
    Quantity(
        "duration_ms",
        "ms",
        "integer",
        "sum",
        False,
        "end - start in milliseconds, summed exactly: the time the day's windows cover",
    ),
    *QUALITY_QUANTITIES,
)

#: The optional base quantities a window may leave out (absent means None; see Quantity).
ABSENT_IS_NULL: tuple[str, ...] = tuple(q.name for q in BASE_QUANTITIES if q.absent_is_null)
#: The quantities a day seal may leave out of its sums and ``measured_windows`` (absent means
#: null, and no window measured it): those added after the first agents that seal days. The
#: absent-is-null quantities that predate the day seal (``unsampled_run_s``) are always there.
DAY_SUMS_ABSENT_IS_NULL: tuple[str, ...] = tuple(
    name for name in ABSENT_IS_NULL if name not in ("unsampled_run_s",)
)
#: The KpiWindow fields that add up over time and devices, in wire order.
SUMMED_FIELDS: tuple[str, ...] = tuple(q.name for q in BASE_QUANTITIES)
#: The five state times; with comm loss they fit in the window (summed in this order).
STATE_TIMES: tuple[str, ...] = ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s")
#: The measured base quantities in seconds (calendar and state times), and the counter roles
#: in parts, in wire order; the derived ones (ideal_good_s, unobserved_count,
#: unsampled_run_s, inferred_planned_s) are neither.
BASE_TIMES: tuple[str, ...] = tuple(
    q.name for q in BASE_QUANTITIES if q.unit == "s" and not q.derived
)
COUNTS: tuple[str, ...] = tuple(
    q.name for q in BASE_QUANTITIES if q.unit == "parts" and not q.derived
)

_BY_NAME = {q.name: q for q in (*BASE_QUANTITIES, *REFERENCE, *QUALITY_QUANTITIES, *STORED_SUMS)}


def by_name(name: str) -> Quantity:
    """The quantity called ``name``; KeyError naming it if there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no base quantity {name!r}; known: {', '.join(_BY_NAME)}") from None
