"""Day seals where people look: an enterprise's checks by plan period, and seals behind.

The registry's ``day_checks`` (written by the ingest after each rollup refresh, and by each
evidence run) hold one outcome per ``kpi_daily`` row. Read-only here, through the registry's
day-seal calls; counted with :mod:`collector.dashboards.day_seals` so that the pages and the
fleet dashboard count alike.

Periods (docs/web.md, "Day seals"): ``baseline`` is the plan's baseline; ``reporting`` runs
from the reporting start to the last reporting end of any rectification, so a rectification's
days count as reporting; ``between`` is every day after the baseline and before the
reporting start (go-live and the run-in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from collector.dashboards import seal_overdue, seals_behind, tally_checks
from collector.plan import Enterprise
from collector.registry import AgentEntry, DayCheck
from collector.web.directory import EnterpriseRef
from collector.web.schemas import DayCheckOut, DaySealCountsOut, DaySealDifferenceOut
from collector.web.state import WebState

__all__ = [
    "DaySealView",
    "day_check_out",
    "day_checks_of",
    "day_seal_view",
    "plan_days",
    "seals_behind_of",
]

Period = Literal["baseline", "between", "reporting"]


@dataclass(frozen=True, slots=True)
class DaySealView:
    """The enterprise page's section: counts per period, every row that differs."""

    counts: list[DaySealCountsOut]
    different: list[DayCheckOut]


def plan_days(enterprise: Enterprise) -> tuple[dt.date, dt.date]:
    """The first and last day the plan's periods cover: baseline start to last reporting end."""
    last = max([enterprise.reporting.end, *(r.reporting.end for r in enterprise.rectifications)])
    return enterprise.baseline.start, last


def _periods(enterprise: Enterprise) -> list[tuple[Period, dt.date, dt.date]]:
    one_day = dt.timedelta(days=1)
    first, last = plan_days(enterprise)
    periods: list[tuple[Period, dt.date, dt.date]] = [
        ("baseline", first, enterprise.baseline.end),
        ("between", enterprise.baseline.end + one_day, enterprise.reporting.start - one_day),
        ("reporting", enterprise.reporting.start, last),
    ]
    return [period for period in periods if period[1] <= period[2]]


def day_check_out(check: DayCheck, tz: str, now: dt.datetime) -> DayCheckOut:
    """A registry check as the API returns it."""
    return DayCheckOut(
        platform=check.platform,
        enterprise=check.enterprise,
        agent=check.agent_id,
        device=check.device,
        provenance=check.provenance,
        day=check.day,
        outcome=check.outcome,
        seal_sha256=check.seal_sha256,
        differences=[
            DaySealDifferenceOut(field=d.field, stored=d.stored, sealed=d.sealed)
            for d in check.differences
        ],
        root_checked=check.root_checked,
        checked_at=check.checked_at,
        checked_by=check.checked_by,
        overdue=check.outcome == "unsealed" and seal_overdue(check.day, tz, now),
    )


def day_checks_of(
    state: WebState,
    ref: EnterpriseRef,
    start: dt.date,
    end: dt.date,
    outcome: str | None,
    now: dt.datetime,
) -> list[DayCheckOut]:
    """The enterprise's checks of days ``start..end`` (one outcome if given), by (day,
    device, agent, provenance)."""
    checks = state.registry.day_checks(ref.id, start, end, outcome=outcome)
    return [day_check_out(check, ref.enterprise.timezone, now) for check in checks]


def day_seal_view(state: WebState, ref: EnterpriseRef, now: dt.datetime) -> DaySealView:
    """Counts per plan period and the differing rows, over the plan's days."""
    enterprise = ref.enterprise
    first, last = plan_days(enterprise)
    checks = state.registry.day_checks(ref.id, first, last)
    counts = []
    for period, start, end in _periods(enterprise):
        rows = (c for c in checks if start <= c.day <= end)
        tally = tally_checks(rows, enterprise.timezone, now)
        counts.append(
            DaySealCountsOut(
                period=period,
                start=start,
                end=end,
                equal=tally.equal,
                different=tally.different,
                unsealed_overdue=tally.unsealed_overdue,
                unsealed_recent=tally.unsealed_recent,
            )
        )
    different = [
        day_check_out(c, enterprise.timezone, now)
        for c in checks
        if c.outcome == "sealed_different"
    ]
    return DaySealView(counts=counts, different=different)


def seals_behind_of(
    state: WebState, agents: Iterable[AgentEntry], now: dt.datetime
) -> dict[str, int]:
    """Per agent: device-days that ended more than a day ago, with windows and no seal.

    One registry read per enterprise of ``agents``, of its ``unsealed`` rows only.
    """
    listed = state.directory().enterprises
    behind: dict[str, int] = {}
    for enterprise in sorted({agent.enterprise for agent in agents}):
        ref = listed.get(enterprise)
        if ref is None:  # an agent of an enterprise no loaded plan lists any more
            continue
        unsealed = state.registry.day_checks(
            enterprise, dt.date.min, dt.date.max, outcome="unsealed"
        )
        behind.update(seals_behind(unsealed, ref.enterprise.timezone, now))
    return behind
