"""What the report's tables show, chosen from the document: no new figures, only selection.

The renderers never compute evidence (the engine did, and the JSON holds it); this module
picks which of the document's figures a table's cell shows (e.g. the energy KPI's headline
change is the savings against the adjusted baseline, not the plain ratio change), orders
lists so the same document gives the same page, and writes the few compound texts
(a target, a model's formula) that need more than one figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeVar

from collector.evidence.document import (
    ChangeDoc,
    EnergyModelDoc,
    EnterpriseEvidence,
    FlagDoc,
    IntegrityDoc,
    KpiDoc,
    MethodDoc,
    TargetDoc,
)
from collector.evidence.subsidy import ENTERPRISE_CAP_FEN, PLATFORM_CAP_FEN, SUBSIDY_PERCENT
from collector.report.formatting import (
    MISSING,
    format_date,
    format_number,
    format_size,
)
from collector.report.i18n import day_type_text, direction_text, fill_figures, label
from collector.report.labels import LABELS
from collector.report.lang import Lang

__all__ = [
    "ENTERPRISE_CAP_FEN",
    "PLATFORM_CAP_FEN",
    "Headline",
    "day_type_counts",
    "days_text",
    "device_day_span",
    "headline",
    "mde",
    "mde_factor",
    "model_formula",
    "oee_factors",
    "ordered_flags",
    "quarantine_rows",
    "serious_count",
    "share_working",
    "sorted_items",
    "sum_digits",
    "sum_names",
    "target_measurement",
    "target_text",
]

_Value = TypeVar("_Value")
_SEVERITY_ORDER: Final = {"serious": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Headline:
    """The change a KPI table shows, in ``unit`` (``pp`` or ``%``)."""

    change: float | None
    unit: str


def headline(kpi: KpiDoc) -> Headline:
    """The change the verdict rests on (method §5).

    For energy per unit: the savings against the production-adjusted baseline, as a change
    (−savings %); for the others: the ratio-of-sums change between the periods.
    """
    if kpi.energy is not None:
        return Headline(-kpi.energy.savings_pct, "%")
    if kpi.change is not None:
        return Headline(kpi.change.change, kpi.change.unit)
    return Headline(None, kpi.target.unit)


def mde(kpi: KpiDoc) -> float | None:
    """The minimum detectable effect the verdict's data give, in the target's unit.

    ``needed_for_80pct_pass`` is target + MDE (method §3), so the MDE is their difference;
    without a verdict it is the plain change's MDE, if any.
    """
    if kpi.needed_for_80pct_pass is not None:
        return kpi.needed_for_80pct_pass - kpi.target.size
    return None if kpi.change is None else kpi.change.mde


def mde_factor(change: ChangeDoc, method: MethodDoc) -> float:
    """The factor of this change's MDE (t quantiles on its degrees of freedom, method §3);
    the method's large-sample 2.80 only for a document made before changes carried their own."""
    return method.mde_factor if change.mde_factor is None else change.mde_factor


def target_text(target: TargetDoc, lang: Lang) -> str:
    """The target in words: ``提高 5.00个百分点`` / ``increase by 5.00 pp``."""
    size = format_size(target.size, target.unit, lang)
    verb = direction_text(target.direction, lang)
    return f"{verb} {size}" if lang == "zh-CN" else f"{verb} by {size}"


def target_measurement(target: TargetDoc, lang: Lang) -> str:
    """Energy per unit's boundary and model drivers in words; empty for the other KPIs."""
    if target.boundary is None:
        return ""
    key = f"targets.boundary.{target.boundary}"
    parts = [fill_figures(label(key, lang), {"meters": label("sep", lang).join(target.meters)})]
    if target.drivers:
        names = [
            label(f"targets.driver.{d}", lang) if f"targets.driver.{d}" in LABELS else d
            for d in target.drivers
        ]
        parts.append(
            fill_figures(
                label("targets.drivers", lang), {"drivers": label("sep", lang).join(names)}
            )
        )
    return label("semicolon", lang).join(parts)


def serious_count(flags: Iterable[FlagDoc]) -> int:
    """How many flags are ``serious``."""
    return sum(1 for flag in flags if flag.severity == "serious")


def ordered_flags(flags: Iterable[FlagDoc]) -> list[FlagDoc]:
    """Serious first, then warnings, then notes; within a severity by check, device, first day."""
    return sorted(
        flags,
        key=lambda flag: (
            _SEVERITY_ORDER.get(flag.severity, 3),
            flag.check,
            flag.device or "",
            min(flag.days, default=dt.date.min),
        ),
    )


def days_text(days: Iterable[dt.date], lang: Lang, limit: int = 6) -> str:
    """The days a flag was seen: the first ``limit`` and how many more."""
    ordered = sorted(days)
    if not ordered:
        return MISSING
    shown = "、".join if lang == "zh-CN" else ", ".join
    text = shown(format_date(day, lang) for day in ordered[:limit])
    rest = len(ordered) - limit
    return text if rest <= 0 else text + " " + label("more_days", lang).format(count=rest)


def sorted_items(mapping: Mapping[str, _Value]) -> list[tuple[str, _Value]]:
    """A mapping's items in key order (documents built in memory need not be sorted)."""
    return sorted(mapping.items())


def sum_names(kpi: KpiDoc) -> list[str]:
    """The names of the sums the periods carry for a KPI, in order."""
    return sorted(set(kpi.baseline.sums) | set(kpi.reporting.sums))


def oee_factors(sums: Mapping[str, float]) -> tuple[float | None, float | None, float | None]:
    """From an OEE period's sums: (A × P, the OEE's quality factor, the count-ratio quality).

    OEE = Σideal_good_s / Σplanned_s = (A × P) × Q_OEE exactly (docs/evidence-method.md §1);
    None where a denominator is zero or the document predates the sum.
    """

    def ratio(num: str, den: str) -> float | None:
        if num not in sums or not sums.get(den):
            return None
        return sums[num] / sums[den]

    return (
        ratio("ideal_count_s", "planned_s"),
        ratio("ideal_good_s", "ideal_count_s"),
        ratio("good_count", "total_count"),
    )


def sum_digits(name: str) -> int:
    """Decimals for a period sum: energy to 0.1 kWh, seconds and counts whole."""
    return 1 if name.endswith("_kwh") else 0


def model_formula(model: EnergyModelDoc) -> str:
    """The fitted model as a formula, e.g. ``E = 217.67 + 0.4840 × good_count``."""
    if not model.coefficients:
        return MISSING
    text = f"E = {format_number(model.coefficients[0], 2)}"
    for driver, coefficient in zip(model.drivers, model.coefficients[1:], strict=False):
        sign = "−" if coefficient < 0 else "+"
        text += f" {sign} {format_number(abs(coefficient), 4)} × {driver}"
    return text


def day_type_counts(counts: Mapping[str, int], lang: Lang) -> str:
    """Usable days per day type: ``Monday to Friday 30, Saturday 0, Sunday 0``."""
    separator = "、" if lang == "zh-CN" else ", "
    return separator.join(f"{day_type_text(kind, lang)} {days}" for kind, days in counts.items())


def share_working(cost_fen: int, share_fen: int) -> str:
    """30 % of the cost in CNY, exact, and the fen it is rounded down to (method §7).

    ``30 % × 999,999.99 = 299,999.997 → 299,999.99``; without the arrow when 30 % is a whole
    number of fen. The exact product is a Decimal: nothing is rounded before the floor.
    """
    exact = Decimal(cost_fen) * SUBSIDY_PERCENT / 10_000
    places = max(2, -int(exact.as_tuple().exponent))
    working = f"{SUBSIDY_PERCENT} % × {Decimal(cost_fen) / 100:,.2f} = {exact:,.{places}f}"
    if places > 2:
        working += f" → {Decimal(share_fen) / 100:,.2f}"
    return working


def quarantine_rows(integrity: IntegrityDoc) -> list[tuple[str, str, int]]:
    """(agent, reason code, messages) in agent then reason order."""
    return [
        (agent, reason, count)
        for agent, reasons in sorted(integrity.quarantined.items())
        for reason, count in sorted(reasons.items())
    ]


def device_day_span(doc: EnterpriseEvidence, lang: Lang) -> str:
    """First and last day of the device-day sums the document carries."""
    if not doc.device_days:
        return MISSING
    days = [row.day for row in doc.device_days]
    first, last = format_date(min(days), lang), format_date(max(days), lang)
    return f"{first}至{last}" if lang == "zh-CN" else f"{first} – {last}"
