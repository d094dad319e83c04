"""Day-seal outcomes counted where people look: one rule for "overdue", one tally.

The registry's ``day_checks`` hold one outcome per ``kpi_daily`` row (agent, device,
provenance, local day; docs/wire-contract.md "Day seal"). The web app's enterprise and fleet
pages and the fleet feed's ``fleet_day_seals`` points all count them the same way, here:

- a row is counted once per outcome (a device-day with measured and imported windows has two
  rows, so two counts: each is a ``kpi_daily`` row the evidence reads);
- an ``unsealed`` row is **overdue** once its local day ended more than
  :data:`SEAL_OVERDUE_AFTER` ago (the day's end in the enterprise's zone, ``contract.days``).
  An agent seals a day after its end plus ``agent.seal_grace_s`` (at most 86 400 s), once the
  day's windows have left its outbox; a day still unsealed a full day after its end is behind,
  while one younger may only be waiting for the grace period or for a broker outage to end.

Pure: values in, values out (the ingest runs the feed, so nothing here reaches the web app).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from collector.registry import DayCheck
from contract.days import day_bounds, zone

__all__ = ["SEAL_OVERDUE_AFTER", "SealTally", "seal_overdue", "seals_behind", "tally_checks"]

#: How long after a local day's end an unsealed row counts as overdue (the agent's largest
#: grace period, ``agent.seal_grace_s`` ≤ 86 400 s).
SEAL_OVERDUE_AFTER = dt.timedelta(days=1)


def seal_overdue(day: dt.date, tz: str, now: dt.datetime) -> bool:
    """Whether ``day`` (local, in zone ``tz``) ended more than a day before ``now``.

    Raises ValueError for an unknown zone.
    """
    return day_bounds(day, zone(tz))[1] + SEAL_OVERDUE_AFTER < now


@dataclass(frozen=True, slots=True)
class SealTally:
    """Row outcomes counted: equal, different, and unsealed split by :func:`seal_overdue`."""

    equal: int = 0
    different: int = 0
    unsealed_overdue: int = 0
    unsealed_recent: int = 0

    @property
    def rows(self) -> int:
        """Every row counted."""
        return self.equal + self.different + self.unsealed_overdue + self.unsealed_recent


def tally_checks(checks: Iterable[DayCheck], tz: str, now: dt.datetime) -> SealTally:
    """The outcomes of ``checks`` (one enterprise's, its zone ``tz``) as of ``now``."""
    counts: Counter[str] = Counter()
    for check in checks:
        if check.outcome == "unsealed":
            late = seal_overdue(check.day, tz, now)
            counts["unsealed_overdue" if late else "unsealed_recent"] += 1
        else:
            counts["equal" if check.outcome == "sealed_equal" else "different"] += 1
    return SealTally(
        equal=counts["equal"],
        different=counts["different"],
        unsealed_overdue=counts["unsealed_overdue"],
        unsealed_recent=counts["unsealed_recent"],
    )


def seals_behind(checks: Iterable[DayCheck], tz: str, now: dt.datetime) -> dict[str, int]:
    """Per agent: its device-days (device, day) with an overdue ``unsealed`` row, i.e. days
    that ended more than a day ago, have windows (a ``kpi_daily`` row) and no seal."""
    behind: dict[str, set[tuple[str, dt.date]]] = {}
    for check in checks:
        if check.outcome == "unsealed" and seal_overdue(check.day, tz, now):
            behind.setdefault(check.agent_id, set()).add((check.device, check.day))
    return {agent: len(days) for agent, days in sorted(behind.items())}
