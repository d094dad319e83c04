"""Plausibility and anti-fraud checks: findings for the reviewer, never a change of verdict.

The platform is paid by the result (DOMAIN.md), so the evidence says where its data looks
unlike any machine's: counts faster than the ideal cycle allows, energy that ignores output,
copied days, measurement settings that change at go-live, device-days whose state was
inferred and so are left out of unplanned downtime, reporting data imported, data lost
around the go-live, missing or rejected messages, clock jumps, device-days that differ from or
lack their agents' day seals. Each check returns
:class:`~collector.evidence.document.FlagDoc`\\ s with the figures behind them; the thresholds
and their reasons are in docs/evidence-method.md §10. Pure: values in, flags out.

Modules: :mod:`.production` (counts, energy, copies), :mod:`.golive` (what changes between the
periods), :mod:`.integrity` (what the collector saw of the agents).
"""

from __future__ import annotations

from collector.evidence.document import FlagDoc
from collector.evidence.plausibility.common import FlagInputs
from collector.evidence.plausibility.golive import (
    comm_loss_around_go_live,
    config_changes,
    device_set_changes,
    downtime_not_measured,
    ideal_cycle_changes,
    reporting_imported,
)
from collector.evidence.plausibility.integrity import (
    clock_jumps,
    day_seal_differs,
    device_days_unsealed,
    quarantined_messages,
    seq_gaps,
)
from collector.evidence.plausibility.production import (
    counts_faster_than_ideal,
    energy_not_following_output,
    identical_days,
)

__all__ = ["SEVERITY_ORDER", "FlagInputs", "plausibility_flags"]

#: Flags are listed most serious first, then by check, device and first day.
SEVERITY_ORDER = {"serious": 0, "warning": 1, "info": 2}

_CHECKS = (
    counts_faster_than_ideal,
    energy_not_following_output,
    identical_days,
    ideal_cycle_changes,
    config_changes,
    device_set_changes,
    downtime_not_measured,
    reporting_imported,
    comm_loss_around_go_live,
    seq_gaps,
    quarantined_messages,
    clock_jumps,
    day_seal_differs,
    device_days_unsealed,
)


def _order(flag: FlagDoc) -> tuple[int, str, str, str, str]:
    first = flag.days[0].isoformat() if flag.days else ""
    return (SEVERITY_ORDER[flag.severity], flag.check, flag.device or "", first, repr(flag.figures))


def plausibility_flags(inputs: FlagInputs) -> list[FlagDoc]:
    """Every check's flags for one enterprise, most serious first (a stable order)."""
    flags = [flag for check in _CHECKS for flag in check(inputs)]
    return sorted(flags, key=_order)
