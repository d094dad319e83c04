"""A digital-level section (document.py ``DigitalLevelDoc``) with figures worked out by hand,
for the renderers' and the web page's tests; the engine's own tests compute one from rows.

Five machines in the plan's count, two of them reporting: 40 %. Months of the baseline at
24,300 / 27,000 and 27,550 / 29,000 good parts (90 % and 95 %: mean 92.5 %, pooled
51,850 / 56,000 = 92.589… %), of the reporting period at 99 %, 97 % and 98 % (mean 98 %,
pooled 89,170 / 91,000 = 97.989… %).
"""

from __future__ import annotations

import datetime as dt
import re

from collector.evidence.document import (
    DigitalDeviceDoc,
    DigitalLevelDoc,
    DigitalScenarioDoc,
    MonthlyQualityDoc,
    NetworkedStatus,
    PeriodDoc,
    PeriodQualityDoc,
)

_FIGURE = re.compile(r'<(td|span)[^>]*data-figure="([^"]+)"[^>]*>(.*?)</\1>', re.S)
_TAG = re.compile(r"<[^>]+>")


def figures(html: str) -> dict[str, str]:
    """Every ``data-figure`` cell's text in a report or page, tags stripped."""
    return {name: _TAG.sub("", text).strip() for _, name, text in _FIGURE.findall(html)}


BASELINE = PeriodDoc(start=dt.date(2026, 2, 2), end=dt.date(2026, 3, 29))
REPORTING = PeriodDoc(start=dt.date(2026, 6, 1), end=dt.date(2026, 8, 30))


def _month(month: str, days: int, good: float, total: float) -> MonthlyQualityDoc:
    return MonthlyQualityDoc(
        month=month, days=days, good_count=good, total_count=total, rate=good / total
    )


def digital_level(total: int | None = 5) -> DigitalLevelDoc:
    """The section for a plan that counts ``total`` production machines (None: no count)."""
    status: NetworkedStatus = "measured" if total is not None else "no_total"
    first, last = REPORTING.start, REPORTING.end
    return DigitalLevelDoc(
        period=REPORTING,
        production_equipment_total=total,
        networked_devices=["press-1", "press-2"],
        networked_status=status,
        networked_share=None if total is None else 2 / total,
        devices=[
            DigitalDeviceDoc(
                device="meter-main",
                production=False,
                measured_days=91,
                first_day=first,
                last_day=last,
                scenarios=["energy_management"],
            ),
            DigitalDeviceDoc(
                device="press-1",
                production=True,
                measured_days=91,
                first_day=first,
                last_day=last,
                scenarios=["equipment_management", "energy_management", "production_control"],
            ),
            DigitalDeviceDoc(
                device="press-2",
                production=True,
                measured_days=1,
                first_day=last,
                last_day=last,
                scenarios=["equipment_management"],
            ),
            DigitalDeviceDoc(
                device="press-3",
                production=None,
                measured_days=0,
                first_day=None,
                last_day=None,
                scenarios=[],
            ),
        ],
        scenarios=[
            DigitalScenarioDoc(
                scenario="equipment_management",
                quantities=["run_s"],
                covered=True,
                devices=["press-1", "press-2"],
            ),
            DigitalScenarioDoc(
                scenario="energy_management",
                quantities=["energy_kwh"],
                covered=True,
                devices=["meter-main", "press-1"],
            ),
            DigitalScenarioDoc(
                scenario="production_control",
                quantities=["total_count", "good_count"],
                covered=True,
                devices=["press-1"],
            ),
        ],
        quality=[
            PeriodQualityDoc(
                role="baseline",
                period=BASELINE,
                months=[_month("2026-02", 27, 24300, 27000), _month("2026-03", 29, 27550, 29000)],
                monthly_mean=(0.90 + 0.95) / 2,
                pooled=51850 / 56000,
            ),
            PeriodQualityDoc(
                role="reporting",
                period=REPORTING,
                months=[
                    _month("2026-06", 30, 29700, 30000),
                    _month("2026-07", 31, 30070, 31000),
                    _month("2026-08", 30, 29400, 30000),
                ],
                monthly_mean=(0.99 + 0.97 + 0.98) / 3,
                pooled=89170 / 91000,
            ),
        ],
    )
