"""The programme's rules and the plan's cross-field rules, each written once with its reason.

:func:`check_plan` takes a plan that passed the schema and returns every finding, errors and
warnings, each at the key path it is about; :mod:`collector.plan.file` adds the line.
The figures come from the 2022 MIIT / MoF notice (工信厅联企业〔2022〕22号), see DOMAIN.md, and
from what the evidence engine needs to give a verdict (docs/plan.md, "Periods").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from collector.plan.model import KPI_DIRECTION, SHARE_KPIS, Enterprise, Period, Plan, Target
from contract.configfile.yamlload import KeyPath, format_path

__all__ = [
    "MAX_PERIOD_DAYS",
    "MAX_PLATFORMS_PER_SUB_INDUSTRY",
    "MAX_SUB_INDUSTRIES_PER_BATCH",
    "MIN_DATA_DAYS",
    "MIN_ENTERPRISES_PER_PLATFORM",
    "MIN_PERIOD_DAYS",
    "Finding",
    "check_plan",
    "min_period_days",
]

#: Each platform must complete at least 10 pilot enterprises; a plan may list more (some may
#: fail review), never fewer.
MIN_ENTERPRISES_PER_PLATFORM = 10
#: At most 3 service platforms per sub-industry.
MAX_PLATFORMS_PER_SUB_INDUSTRY = 3
#: At most 5 sub-industries per province per batch.
MAX_SUB_INDUSTRIES_PER_BATCH = 5
#: Shortest baseline and reporting period per KPI, in days. Four whole weeks give every weekday
#: (and so every shift pattern) four times, and leave room for the evidence engine's moving-block
#: bootstrap over days (several blocks of about n^(1/3) days). The energy model regresses daily
#: energy on daily output (IPMVP option B/C, ASHRAE Guideline 14): it needs about 30 usable
#: days for its fit statistics to mean something, so its periods are six weeks.
MIN_PERIOD_DAYS: dict[str, int] = {
    "oee": 28,
    "availability": 28,
    "performance": 28,
    "quality": 28,
    "output_per_planned_hour": 28,
    "defect_rate": 28,
    "unplanned_downtime_per_planned_hour": 28,
    "energy_per_unit": 42,
}
#: Days with sufficient data the evidence engine expects in each period before it gives a verdict
#: other than "insufficient data" (the period lengths above leave half the days for outages).
MIN_DATA_DAYS: dict[str, int] = {kpi: days // 2 for kpi, days in MIN_PERIOD_DAYS.items()}
#: A period longer than a year is allowed but reported: the implementation period is one year.
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule: the key path it is about, what is wrong, and how serious it is."""

    path: KeyPath
    message: str
    severity: Literal["error", "warning"] = "error"


def min_period_days(enterprise: Enterprise) -> int:
    """Shortest period the enterprise's targets allow, in days (the largest of their minimums)."""
    return max(MIN_PERIOD_DAYS[kpi] for kpi in enterprise.targets)


def check_plan(plan: Plan) -> list[Finding]:
    """Every rule the plan breaks, errors and warnings, in the plan's order."""
    return [
        *_batch_rules(plan),
        *_unique_ids(plan),
        *_agent_rules(plan),
        *(
            finding
            for p, platform in enumerate(plan.platforms)
            for e, enterprise in enumerate(platform.enterprises)
            for finding in _enterprise_rules(plan, ("platforms", p, "enterprises", e), enterprise)
        ),
    ]


def _batch_rules(plan: Plan) -> Iterator[Finding]:
    count = len(plan.sub_industries)
    if count > MAX_SUB_INDUSTRIES_PER_BATCH:
        yield Finding(
            ("sub_industries",),
            f"got {count} sub-industries, expected at most {MAX_SUB_INDUSTRIES_PER_BATCH} per "
            "province per batch (programme rule)",
        )
    known = {sub.id for sub in plan.sub_industries}
    users: dict[str, list[str]] = defaultdict(list)
    for p, platform in enumerate(plan.platforms):
        users[platform.sub_industry].append(platform.id)
        if platform.sub_industry not in known:
            yield Finding(
                ("platforms", p, "sub_industry"),
                f"got {platform.sub_industry!r}, expected one of the plan's sub_industries: "
                f"{', '.join(sorted(known))}",
            )
        listed = len(platform.enterprises)
        if listed < MIN_ENTERPRISES_PER_PLATFORM:
            yield Finding(
                ("platforms", p, "enterprises"),
                f"platform {platform.id} lists {listed} enterprises, expected at least "
                f"{MIN_ENTERPRISES_PER_PLATFORM}: each platform must complete at least "
                f"{MIN_ENTERPRISES_PER_PLATFORM} pilot enterprises (programme rule)",
            )
    for s, sub in enumerate(plan.sub_industries):
        platforms = users.get(sub.id, [])
        if len(platforms) > MAX_PLATFORMS_PER_SUB_INDUSTRY:
            yield Finding(
                ("sub_industries", s, "id"),
                f"sub-industry {sub.id} has {len(platforms)} platforms ({', '.join(platforms)}), "
                f"expected at most {MAX_PLATFORMS_PER_SUB_INDUSTRY} (programme rule)",
            )
        if not platforms:
            yield Finding(
                ("sub_industries", s, "id"),
                f"sub-industry {sub.id} has no platform in this plan",
                "warning",
            )
        if sub.category == "other":
            yield Finding(
                ("sub_industries", s, "category"),
                f"sub-industry {sub.id} is not in one of the notice's priority industries "
                "(pharmaceuticals and chemicals, general and special equipment, auto parts, "
                "transport equipment, electrical machinery, computers and communication "
                "electronics)",
                "warning",
            )
    if plan.implementation_period is not None:
        yield from _period_order(("implementation_period",), plan.implementation_period)
        if plan.implementation_period.days > MAX_PERIOD_DAYS:
            yield Finding(
                ("implementation_period", "end"),
                f"implementation period is {plan.implementation_period.days} days; the "
                "programme's implementation period is one year per batch",
                "warning",
            )


def _unique_ids(plan: Plan) -> Iterator[Finding]:
    seen: dict[tuple[str, str], KeyPath] = {}

    def check(kind: str, value: str, path: KeyPath) -> Iterator[Finding]:
        first = seen.setdefault((kind, value), path)
        if first != path:
            yield Finding(path, f"{kind} id {value!r} is used twice (first at {_shown(first)})")

    for s, sub in enumerate(plan.sub_industries):
        yield from check("sub-industry", sub.id, ("sub_industries", s, "id"))
    for p, platform in enumerate(plan.platforms):
        yield from check("platform", platform.id, ("platforms", p, "id"))
        for e, enterprise in enumerate(platform.enterprises):
            where: KeyPath = ("platforms", p, "enterprises", e)
            # Enterprise ids are unique across the plan: an enterprise is a pilot of one
            # platform per batch, and evidence is filed under it.
            yield from check("enterprise", enterprise.id, (*where, "id"))
            for a, agent in enumerate(enterprise.agents):
                # Agent ids are unique across the plan: the ingest finds an agent by its id.
                yield from check("agent", agent.id, (*where, "agents", a, "id"))


def _agent_rules(plan: Plan) -> Iterator[Finding]:
    keys: dict[str, KeyPath] = {}
    for p, platform in enumerate(plan.platforms):
        for e, enterprise in enumerate(platform.enterprises):
            where: KeyPath = ("platforms", p, "enterprises", e)
            if not enterprise.agents:
                yield Finding(
                    (*where, "id"),
                    f"enterprise {enterprise.id} has no agent yet: no evidence can be collected "
                    "until one is registered (here or with retrofit-collector agents add)",
                    "warning",
                )
            devices: dict[str, str] = {}
            for a, agent in enumerate(enterprise.agents):
                key_path: KeyPath = (*where, "agents", a, "public_key")
                first = keys.setdefault(agent.public_key, key_path)
                if first != key_path:
                    yield Finding(
                        key_path,
                        f"agent {agent.id} has the same public key as {_shown(first)}: each "
                        "agent has its own key pair, so a signature names one agent",
                    )
                for d, device in enumerate(agent.devices):
                    owner = devices.setdefault(device, agent.id)
                    if owner != agent.id or agent.devices.index(device) != d:
                        yield Finding(
                            (*where, "agents", a, "devices", d),
                            f"device {device} is already reported by agent {owner}: expected "
                            "each device reported by exactly one agent",
                        )


def _enterprise_rules(plan: Plan, where: KeyPath, enterprise: Enterprise) -> Iterator[Finding]:
    yield from _target_rules(where, enterprise)
    yield from _period_order((*where, "baseline"), enterprise.baseline)
    yield from _period_order((*where, "reporting"), enterprise.reporting)
    if enterprise.baseline.end >= enterprise.go_live:
        yield Finding(
            (*where, "baseline", "end"),
            f"got {enterprise.baseline.end}, expected before go_live {enterprise.go_live}: the "
            "baseline measures the shop floor before the retrofit",
        )
    if enterprise.reporting.start <= enterprise.go_live:
        yield Finding(
            (*where, "reporting", "start"),
            f"got {enterprise.reporting.start}, expected after go_live {enterprise.go_live}: "
            "the reporting period measures the shop floor after the retrofit is live",
        )
    for name in ("baseline", "reporting"):
        yield from _period_length((*where, name), name, getattr(enterprise, name), enterprise)
    yield from _rectification_rules(where, enterprise)
    yield from _implementation_rules(plan, where, enterprise)


def _period_length(
    at: KeyPath, name: str, period: Period, enterprise: Enterprise
) -> Iterator[Finding]:
    needed = min_period_days(enterprise)
    kpis = ", ".join(kpi for kpi in enterprise.targets if MIN_PERIOD_DAYS[kpi] == needed)
    if 0 < period.days < needed:
        yield Finding(
            (*at, "end"),
            f"{name} period is {period.days} days ({period.start} to {period.end}), expected "
            f"at least {needed} days for the targets {kpis} (see docs/plan.md, Periods)",
        )
    elif period.days > MAX_PERIOD_DAYS:
        yield Finding(
            (*at, "end"),
            f"{name} period is {period.days} days, longer than a year",
            "warning",
        )


def _rectification_rules(where: KeyPath, enterprise: Enterprise) -> Iterator[Finding]:
    """A rectification (整改) follows a failed review of the attempt before it (docs/plan.md)."""
    previous = enterprise.reporting
    for r, rectification in enumerate(enterprise.rectifications):
        at: KeyPath = (*where, "rectifications", r)
        if rectification.date <= previous.end:
            yield Finding(
                (*at, "date"),
                f"got {rectification.date}, expected after {previous.end}, the end of the "
                "previous reporting period: a rectification follows the review of that period",
            )
        reporting = rectification.reporting
        yield from _period_order((*at, "reporting"), reporting)
        if reporting.start <= rectification.date:
            yield Finding(
                (*at, "reporting", "start"),
                f"got {reporting.start}, expected after the rectification date "
                f"{rectification.date}: the new reporting period measures the shop floor after "
                "the rectification is done",
            )
        yield from _period_length(
            (*at, "reporting"), "rectification reporting", reporting, enterprise
        )
        previous = reporting


def _target_rules(where: KeyPath, enterprise: Enterprise) -> Iterator[Finding]:
    if not any(target.required for target in enterprise.targets.values()):
        yield Finding(
            (*where, "targets"),
            "no target is required, expected at least one with required: true: the enterprise's "
            "verdict rests on its required targets",
        )
    for kpi, target in enterprise.targets.items():
        at: KeyPath = (*where, "targets", kpi)
        improves = KPI_DIRECTION[kpi]
        if target.direction != improves:
            yield Finding(
                (*at, "direction"),
                f"got {target.direction}, expected {improves}: {kpi} improves when it "
                f"{'rises' if improves == 'increase' else 'falls'}",
            )
        if target.unit == "pp" and kpi not in SHARE_KPIS:
            yield Finding(
                (*at, "unit"),
                f"got pp, expected %: {kpi} is not a share of 0..1, so only a relative change "
                "is comparable",
            )
        elif target.unit == "pp" and target.size > 100:
            yield Finding((*at, "size"), f"got {target.size:g} pp, expected at most 100 pp")
        elif target.unit == "%" and target.direction == "decrease" and target.size >= 100:
            yield Finding(
                (*at, "size"),
                f"got a decrease of {target.size:g} %, expected less than 100 %",
            )
        yield from _boundary_rules(at, kpi, target, enterprise)


def _boundary_rules(
    at: KeyPath, kpi: str, target: Target, enterprise: Enterprise
) -> Iterator[Finding]:
    """Energy per unit's measurement boundary (docs/evidence-method.md §1, docs/plan.md)."""
    if kpi != "energy_per_unit":
        for key in ("boundary", "meters"):
            if key in target.model_fields_set:
                yield Finding(
                    (*at, key),
                    f"got {key} on {kpi}, expected it only on energy_per_unit: only energy "
                    "per unit has a measurement boundary",
                )
        if "drivers" in target.model_fields_set:
            yield Finding(
                (*at, "drivers"),
                f"got drivers on {kpi}, expected them only on energy_per_unit: only energy per "
                "unit has a baseline model",
            )
        return
    yield from _driver_rules(at, target)
    if target.boundary == "devices" and target.meters:
        yield Finding(
            (*at, "meters"),
            "got meters with boundary devices, expected boundary: facility to use them: with "
            "devices each machine's own meter counts, and listed meters would be ignored",
        )
    if target.boundary == "facility" and not target.meters:
        yield Finding(
            (*at, "meters"),
            "boundary facility needs the devices whose energy is the facility's, e.g. "
            "meters: [meter-main] (the main meters only: a sub-meter behind one counts twice)",
        )
    reported = {device for agent in enterprise.agents for device in agent.devices}
    for m, meter in enumerate(target.meters):
        if meter in target.meters[:m]:
            yield Finding(
                (*at, "meters", m), f"meter {meter} is listed twice: it would count twice"
            )
        elif enterprise.agents and meter not in reported:
            # A warning: an agent added later (agents add) may report it.
            yield Finding(
                (*at, "meters", m),
                f"meter {meter} is not a device of enterprise {enterprise.id}'s agents "
                f"({', '.join(sorted(reported))}): its energy will be missing unless an agent "
                "added later reports it",
                "warning",
            )


def _driver_rules(at: KeyPath, target: Target) -> Iterator[Finding]:
    """The energy model's drivers (docs/evidence-method.md §4, docs/plan.md)."""
    if "good_count" not in target.drivers:
        yield Finding(
            (*at, "drivers"),
            f"got [{', '.join(target.drivers)}], expected good_count among them: energy per "
            "unit is energy per good part, so the baseline must adjust for good output",
        )
    for d, driver in enumerate(target.drivers):
        if driver in target.drivers[:d]:
            yield Finding(
                (*at, "drivers", d), f"driver {driver} is listed twice: expected each once"
            )


def _implementation_rules(plan: Plan, where: KeyPath, enterprise: Enterprise) -> Iterator[Finding]:
    period = plan.implementation_period
    if period is None:
        return
    if not period.start <= enterprise.go_live <= period.end:
        yield Finding(
            (*where, "go_live"),
            f"got {enterprise.go_live}, expected within the implementation period "
            f"{period.start} to {period.end}",
        )
    if enterprise.reporting.end > period.end:
        yield Finding(
            (*where, "reporting", "end"),
            f"reporting period ends {enterprise.reporting.end}, after the implementation period "
            f"({period.end}): the review may come before its data",
            "warning",
        )


def _period_order(where: KeyPath, period: Period) -> Iterator[Finding]:
    if period.end < period.start:
        yield Finding(
            (*where, "end"),
            f"got {period.end}, expected on or after start {period.start}",
        )


def _shown(path: KeyPath) -> str:
    return format_path(path)
