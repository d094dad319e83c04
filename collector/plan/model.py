"""The implementation plan (实施方案) as pydantic models: what a province submits per batch.

One plan is one province's batch: its sub-industries, the service platforms (one sub-industry
each), the pilot enterprises each platform serves with their retrofit cost, periods and KPI
targets, and the agents installed at each enterprise with their public keys and devices.

These models check each value on its own (types, ranges, formats). Rules across values and the
programme's rules (at least 10 enterprises per platform, baseline before go-live, ...) are in
:mod:`collector.plan.rules`, so that every rule is written once, with its reason.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
)

from contract import wire
from contract.configfile.types import (
    ConfigModel,
    Identifier,
    describe_value,
    float_range,
    int_range,
    problem,
)

__all__ = [
    "KPI_DIRECTION",
    "KPI_NAMES",
    "SHARE_KPIS",
    "SUB_INDUSTRY_CATEGORIES",
    "AgentPlan",
    "EnergyBoundary",
    "EnergyDriver",
    "Enterprise",
    "KpiName",
    "Period",
    "Plan",
    "Platform",
    "Province",
    "Rectification",
    "SubIndustry",
    "SubIndustryCategory",
    "Target",
]

#: The KPIs a target may name; the evidence engine computes each from summed base quantities
#: (docs/kpi.md): ratios over a period are ratios of sums, never means of daily ratios.
KpiName = Literal[
    "oee",
    "availability",
    "performance",
    "quality",
    "output_per_planned_hour",
    "defect_rate",
    "unplanned_downtime_per_planned_hour",
    "energy_per_unit",
]
KPI_NAMES: tuple[str, ...] = get_args(KpiName)

#: The direction in which each KPI improves. A target pointing the other way would let a
#: platform "pass" a worsening, so the rules refuse it.
KPI_DIRECTION: dict[str, Literal["increase", "decrease"]] = {
    "oee": "increase",
    "availability": "increase",
    "performance": "increase",
    "quality": "increase",
    "output_per_planned_hour": "increase",
    "defect_rate": "decrease",
    "unplanned_downtime_per_planned_hour": "decrease",
    "energy_per_unit": "decrease",
}

#: KPIs that are shares of 0..1 (unplanned downtime per planned hour is hours per hour), for
#: which a change in percentage points (pp) means something. Output and energy per unit have
#: units of their own, so only a relative change (%) is comparable across enterprises.
SHARE_KPIS = frozenset(
    {
        "oee",
        "availability",
        "performance",
        "quality",
        "defect_rate",
        "unplanned_downtime_per_planned_hour",
    }
)

#: The notice's priority industries, plus ``other``: a sub-industry outside them is allowed
#: but reported as a warning (the notice gives them priority, it does not exclude the rest).
SubIndustryCategory = Literal[
    "pharma_chemicals",
    "general_special_equipment",
    "auto_parts",
    "transport_equipment",
    "electrical_machinery",
    "computer_communication_electronics",
    "other",
]
SUB_INDUSTRY_CATEGORIES: tuple[str, ...] = get_args(SubIndustryCategory)

#: Largest production equipment count accepted: far above any SME's shop floor, it only stops
#: typos (a serial number typed where the count was meant).
MAX_PRODUCTION_EQUIPMENT = 100_000

#: Largest retrofit cost accepted, in CNY: far above any SME retrofit, it only stops typos
#: (an amount in fen written where yuan were meant).
MAX_COST_CNY = Decimal("1000000000")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


def _money(value: object) -> Decimal:
    # Money is never a float: 0.1 + 0.2 != 0.3 in binary, and a subsidy is paid to the fen.
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        hint = " (quote it: '850000.00')" if isinstance(value, float) else ""
        raise problem(
            f"got {describe_value(value)}, expected an amount in CNY as a quoted decimal such as "
            f"'850000.00' or a whole number of yuan; money is never a float{hint}"
        )
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise problem(
            f"got {describe_value(value)}, expected an amount in CNY such as '850000.00'"
        ) from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or not isinstance(exponent, int):
        raise problem(f"got {describe_value(value)}, expected a finite amount in CNY")
    if exponent < -2:
        raise problem(f"got {describe_value(value)}, expected at most 2 decimal places (fen)")
    if not Decimal(0) < amount <= MAX_COST_CNY:
        raise problem(f"got {describe_value(value)}, expected more than 0 and at most 1e9 CNY")
    return amount.quantize(Decimal("0.01"))


#: An amount in CNY, exact to the fen; written to JSON as a string such as ``"850000.00"``.
Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str),
]


def _not_a_bool(value: object) -> object:
    # pydantic's lax int takes true for 1: a count written as true is a mistake to name.
    if isinstance(value, bool):
        raise problem(f"got {describe_value(value)}, expected a whole number of machines")
    return value


#: A count of machines (台/套), at least 1.
EquipmentCount = Annotated[
    int, BeforeValidator(_not_a_bool), int_range(1, MAX_PRODUCTION_EQUIPMENT, "machines")
]


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise problem(
            f"got {describe_value(value)}, expected an IANA time zone such as Asia/Shanghai"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


def _public_key(value: str) -> str:
    try:
        wire.public_key_from_text(value)
    except ValueError as exc:
        raise problem(
            f"got {describe_value(value)}, expected ed25519:<base64 of 32 bytes> as printed by "
            f"retrofit-agent keygen ({exc})"
        ) from None
    return value.strip()


#: An agent's public key in the registry's form ``ed25519:<base64>`` (see contract/wire.py).
PublicKeyText = Annotated[str, AfterValidator(_public_key)]


def _one_sub_industry(value: object) -> object:
    if isinstance(value, list | tuple):
        raise problem(
            f"got {describe_value(value)}, expected one sub-industry id: a platform applies for "
            "one sub-industry or industrial cluster per batch"
        )
    return value


class Period(ConfigModel):
    """Whole local days from ``start`` to ``end``, both included, in the enterprise's zone."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included (0 or less if end is before start)."""
        return (self.end - self.start).days + 1


#: Where energy per unit is measured (IPMVP's measurement boundary, docs/evidence-method.md §1):
#: ``devices`` = each machine's own meter and counters (option B, retrofit isolation),
#: ``facility`` = the meters the target lists against every counting device (option C).
EnergyBoundary = Literal["devices", "facility"]

#: What the energy baseline model adjusts for (docs/evidence-method.md §4): ``good_count`` (the
#: day's good output, always) and optionally ``planned_h`` (its planned production hours), so
#: E = b₀ + b₁·G (+ b₂·H).
EnergyDriver = Literal["good_count", "planned_h"]
#: The default: output only.
DEFAULT_ENERGY_DRIVERS: tuple[EnergyDriver, ...] = ("good_count",)


class Target(ConfigModel):
    """A performance target (绩效目标) for one KPI: e.g. OEE +5 pp, energy per unit -8 %."""

    direction: Literal["increase", "decrease"]
    #: Size of the change: percentage points of a share (``pp``) or percent of the baseline
    #: value (``%``, a relative change).
    size: Annotated[float, float_range(0, 1000, low_open=True)]
    unit: Literal["pp", "%"]
    #: Whether the enterprise passes only if this target is met.
    required: bool = True
    #: energy_per_unit only: the measurement boundary (the rules refuse it on other KPIs).
    boundary: EnergyBoundary = "devices"
    #: energy_per_unit with boundary ``facility``: the devices whose energy is the facility's
    #: (its main meters; never a sub-meter behind one of them, which would count twice).
    meters: tuple[Identifier, ...] = ()
    #: energy_per_unit only: the baseline model's drivers; ``planned_h`` adds the day's planned
    #: hours to its good output, for a plant whose shifts change between periods.
    drivers: tuple[EnergyDriver, ...] = DEFAULT_ENERGY_DRIVERS

    @model_serializer(mode="wrap")
    def _without_default_boundary(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, object]:
        # A target that keeps the default boundary and drivers serialises as it did before
        # these keys existed, so a plan's registry digest stays the same and reloading it is no
        # new version.
        data: dict[str, object] = handler(self)
        if self.boundary == "devices" and not self.meters:
            data.pop("boundary", None)
            data.pop("meters", None)
        if self.drivers == DEFAULT_ENERGY_DRIVERS:
            data.pop("drivers", None)
        return data


class AgentPlan(ConfigModel):
    """An edge agent installed at the enterprise, its public key and the devices it reports."""

    id: Identifier
    public_key: PublicKeyText
    devices: Annotated[tuple[Identifier, ...], Field(min_length=1)]


class Rectification(ConfigModel):
    """A rectification (整改) after a failed review: from ``date`` on, a new reporting period.

    The baseline and targets stay the enterprise's; only the reporting period is new. Every
    attempt is kept: the original reporting period is attempt 1, rectifications follow in order.
    """

    date: dt.date
    reporting: Period


class Enterprise(ConfigModel):
    """A pilot enterprise (试点企业) served by a platform, with its periods and targets."""

    id: Identifier
    name: Name
    industry: Name
    retrofit_cost_cny: Money
    solution: Text
    #: The enterprise's total production equipment (生产设备总数), networked or not: the
    #: denominator of 生产设备联网率 (docs/evidence-method.md §11). Optional; without it that
    #: rate is not computed (the plan's device list would give ~100 % by construction).
    production_equipment_total: EquipmentCount | None = None
    timezone: TimeZoneName = "Asia/Shanghai"
    baseline: Period
    go_live: dt.date
    reporting: Period
    targets: Annotated[dict[KpiName, Target], Field(min_length=1)]
    agents: tuple[AgentPlan, ...] = ()
    #: Rectifications (整改) in date order, each with a new reporting period after a failed
    #: review; empty for an enterprise reviewed once.
    rectifications: tuple[Rectification, ...] = ()

    @field_validator("targets", mode="after")
    @classmethod
    def _targets_in_kpi_order(cls, targets: dict[KpiName, Target]) -> dict[KpiName, Target]:
        # One order whatever the source: the registry stores the plan with sorted keys
        # (plan_content), a plan file keeps its author's order, and the evidence lists the
        # KPIs in this dict's order, so a verifier reading the file would otherwise compare
        # each KPI with another one.
        return dict(sorted(targets.items()))

    @model_serializer(mode="wrap")
    def _without_empty_rectifications(
        self, handler: SerializerFunctionWrapHandler
    ) -> dict[str, object]:
        # A plan without rectifications (or without the equipment count) serialises as it did
        # before the key existed, so its registry digest (plan_digest) stays the same and
        # reloading it is not a new version.
        data: dict[str, object] = handler(self)
        if not self.rectifications:
            data.pop("rectifications", None)
        if self.production_equipment_total is None:
            data.pop("production_equipment_total", None)
        return data

    @property
    def reporting_periods(self) -> tuple[Period, ...]:
        """Every attempt's reporting period: the original, then each rectification's."""
        return (self.reporting, *(r.reporting for r in self.rectifications))

    @property
    def retrofit_cost_fen(self) -> int:
        """The retrofit cost in fen (1 CNY = 100 fen), exact."""
        return int(self.retrofit_cost_cny * 100)


class Platform(ConfigModel):
    """A service platform (服务平台): one sub-industry, the enterprises it retrofits."""

    id: Identifier
    name: Name
    sub_industry: Annotated[Identifier, BeforeValidator(_one_sub_industry)]
    enterprises: Annotated[tuple[Enterprise, ...], Field(min_length=1)]


class SubIndustry(ConfigModel):
    """A sub-industry or industrial cluster (细分行业) of the batch."""

    id: Identifier
    name: Name
    category: SubIndustryCategory


class Province(ConfigModel):
    """The province submitting the plan: GB/T 2260 six-digit code and name."""

    code: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{5}$")]
    name: Name


class Plan(ConfigModel):
    """One province's implementation plan for one batch."""

    province: Province
    batch_year: Annotated[int, int_range(2020, 2100)]
    implementation_period: Period | None = None
    sub_industries: Annotated[tuple[SubIndustry, ...], Field(min_length=1)]
    platforms: Annotated[tuple[Platform, ...], Field(min_length=1)]

    @property
    def key(self) -> str:
        """The plan's identity in the registry: ``<province code>-<batch year>``."""
        return f"{self.province.code}-{self.batch_year}"
