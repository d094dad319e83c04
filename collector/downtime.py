"""Which device-days measure unplanned downtime: the state-code rule, written once (#18).

Inference (power, run signal, counter activity) never says ``down``: a meter cannot tell a
breakdown from waiting for material, so a device-day whose state was mostly inferred has a
``down_s`` of 0 that is no measurement. Unplanned downtime per planned hour (ISO 22400-2
ADOT / PBT) is therefore measured over the planned time a state code measured,
``planned_s − inferred_planned_s``, and only on device-days a code measured at least
:data:`MIN_STATE_CODE_SHARE` of (docs/kpi.md, "Never down, never planned_stop";
docs/evidence-method.md §1).

Two rooms apply it and neither may import the other: the evidence engine
(``collector.evidence.daily``, which reaches no store) and the store's daily rollups
(``collector.store.rollup``, run by the ingest, which must not load the engine's numpy and
scipy), whose ``downtime_down_s`` and ``downtime_planned_s`` let a dashboard show the same
ratio. So the rule lives here, on the standard library alone.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MIN_STATE_CODE_SHARE",
    "coded_planned_s",
    "downtime_measured",
]

#: Share of a device-day's planned time (PBT) a state code must have measured before the day
#: counts for unplanned downtime: four fifths, as MIN_COVERAGE asks of a day's data. Down time
#: hides in the inferred rest (counted as idle or off), so the day's ratio is measured over the
#: coded part only; past a fifth inferred, the coded part is a sample of the day the device
#: chose (its code works when it works), not the day.
MIN_STATE_CODE_SHARE: Final = 0.80


def coded_planned_s(planned_s: float, inferred_planned_s: float | None) -> float:
    """The planned time a state code measured, s: ``planned_s − inferred_planned_s``.

    An absent ``inferred_planned_s`` (a device without a ``state:`` block, an agent that
    predates the quantity) means none was inferred.
    """
    return planned_s - (inferred_planned_s or 0.0)


def downtime_measured(planned_s: float, inferred_planned_s: float | None) -> bool:
    """Whether a device-day counts for unplanned downtime: a state code measured at least
    :data:`MIN_STATE_CODE_SHARE` of its planned time. A day without planned time counts (it
    adds nothing to the denominator)."""
    return coded_planned_s(planned_s, inferred_planned_s) >= MIN_STATE_CODE_SHARE * planned_s
