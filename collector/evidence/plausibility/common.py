"""What every plausibility check reads, and small helpers they share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from collector.evidence.daily import EnterpriseDay
from collector.evidence.document import FlagDoc, Severity
from collector.evidence.inputs import AgentRecord, DailySums, SealCheckRecord, SeqGapRecord
from collector.plan import Enterprise, Period

__all__ = ["Figure", "FlagInputs", "flag", "in_period", "rows_by_device"]

#: A figure a flag quotes: a number, a short text (an id, a digest), or None when undefined.
Figure = float | int | str | None


@dataclass(frozen=True, slots=True)
class FlagInputs:
    """One enterprise's plan record, device-day rows, enterprise days and registry integrity."""

    enterprise: Enterprise
    rows: Sequence[DailySums]
    days: Sequence[EnterpriseDay]
    agents: Sequence[AgentRecord] = ()
    seq_gaps: Sequence[SeqGapRecord] = ()
    highest_seqs: Mapping[str, int] = field(default_factory=dict)
    quarantined: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Each device-day against its day seal; None when the evidence has no seal check.
    seal_checks: Sequence[SealCheckRecord] | None = None

    @property
    def reporting_periods(self) -> tuple[Period, ...]:
        """Every attempt's reporting period (the original, then rectifications)."""
        return self.enterprise.reporting_periods


def flag(
    check: str,
    severity: Severity,
    figures: Mapping[str, Figure],
    *,
    device: str | None = None,
    days: Iterable[date] = (),
) -> FlagDoc:
    """A flag with its days sorted and unique, and float figures rounded for reading.

    Figures are rounded to 6 significant digits: they are what a sentence quotes; the inputs
    they come from are in the bundle's device days at full precision.
    """
    shown = {
        name: float(f"{value:.6g}") if isinstance(value, float) else value
        for name, value in figures.items()
    }
    return FlagDoc(
        check=check, severity=severity, device=device, days=sorted(set(days)), figures=shown
    )


def in_period(day: date, period: Period) -> bool:
    """Whether ``day`` lies in ``period`` (both ends included)."""
    return period.start <= day <= period.end


def rows_by_device(rows: Iterable[DailySums]) -> dict[str, list[DailySums]]:
    """Rows per device, each list in day order."""
    grouped: dict[str, list[DailySums]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.device, r.day, r.agent, r.provenance)):
        grouped[row.device].append(row)
    return dict(grouped)
