"""Realistic evidence documents for the renderer tests, built with the pydantic models.

A small synthetic plant (two devices, shifts Monday to Saturday, AR(1) day-to-day noise, a
few low-coverage days) gives device-day sums; every figure of the document follows from them
the way docs/evidence-method.md says (ratios of sums, usable days, period values). The
uncertainty figures (intervals, SE) are simple normal approximations: these documents test
the rendering, not the engine (tests/collector/evidence tests the statistics).

Scenarios: :func:`passing` (OEE, output, energy pass; a warning and a serious flag),
:func:`rectified` (attempt 1 fails, the 整改 attempt passes or fails), :func:`insufficient`
(reporting data too thin, energy model outside Guideline 14), :func:`hostile` (names and
figures that try to inject markup).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from collector.evidence.document import (
    AgentDoc,
    AttemptDoc,
    ChangeDoc,
    DailyPointDoc,
    DeviceDayDoc,
    DeviceValueDoc,
    EnergyDoc,
    EnergyModelDoc,
    EnergyPointDoc,
    EnterpriseDoc,
    EnterpriseEvidence,
    EnterpriseSummaryDoc,
    FlagDoc,
    IntegrityDoc,
    IntervalDoc,
    KpiDoc,
    MethodDoc,
    PeriodDoc,
    PlanRefDoc,
    PlatformDoc,
    PlatformRollup,
    PlatformSummaryDoc,
    ProvinceDoc,
    ProvinceSummary,
    SeqGapDoc,
    SoftwareDoc,
    SubIndustryDoc,
    SubsidyDoc,
    SufficiencyDoc,
    TargetDoc,
    canonical_json,
)

SOFTWARE = SoftwareDoc(
    retrofit_verify="0.1.0", python="3.11.2", numpy="2.4.0", scipy="1.17.0", statsmodels="0.15.0"
)
METHOD = MethodDoc(
    seed=20220722,
    replicates=2000,
    confidence=0.95,
    power=0.80,
    mde_factor=2.8016,
    min_coverage=0.80,
    max_reporting_imported_share=0.50,
    min_data_days={
        "oee": 14,
        "output_per_planned_hour": 14,
        "defect_rate": 14,
        "energy_per_unit": 21,
    },
    g14_max_cv_rmse_pct=20.0,
    g14_max_abs_nmbe_pct=0.5,
    g14_max_fsu_68=0.5,
    min_state_code_share=0.80,
)
PLAN = PlanRefDoc(key="zhejiang-2024-batch1", version=3, digest="9f" * 32)
PROVINCE = ProvinceDoc(code="330000", name="浙江省")
PLATFORM = PlatformDoc(
    id="plat-valves",
    name="杭州数智工业互联网服务有限公司",
    sub_industry=SubIndustryDoc(id="valves", name="阀门制造", category="通用设备制造业"),
)
Z = 1.959964
MDE_FACTOR = 2.8016

DEVICES = (("gw-01", "press-01", 57_600.0, 12.0), ("gw-01", "cnc-02", 28_800.0, 45.0))


@dataclass(frozen=True)
class Plant:
    """How the synthetic plant behaves before and after its go-live."""

    availability: tuple[float, float] = (0.84, 0.90)
    performance: tuple[float, float] = (0.80, 0.85)
    quality: tuple[float, float] = (0.965, 0.975)
    energy_fixed_kwh: tuple[float, float] = (420.0, 380.0)
    energy_per_part_kwh: tuple[float, float] = (0.070, 0.062)
    energy_noise_kwh: float = 9.0
    noise: float = 0.025
    rho: float = 0.5
    low_coverage_every: int = 17
    #: Days (from the reporting start) whose coverage is poor, to make data thin.
    poor_reporting_coverage: bool = False
    seed: int = 7


@dataclass
class Day:
    """One enterprise-day's sums (both devices) and per-device sums."""

    day: dt.date
    scheduled: bool
    coverage: float
    sums: dict[str, float] = field(default_factory=dict)
    devices: dict[str, dict[str, float]] = field(default_factory=dict)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def simulate(
    plant: Plant, first: dt.date, last: dt.date, go_live: dt.date, reporting_start: dt.date
) -> list[Day]:
    """Daily sums of the two devices from ``first`` to ``last``."""
    rng = random.Random(plant.seed)
    shock = 0.0
    days = []
    for index, day in enumerate(_days(first, last)):
        after = day >= go_live
        shock = plant.rho * shock + rng.gauss(0.0, plant.noise)
        scheduled = day.weekday() < 6
        coverage = 0.97 - 0.02 * rng.random()
        if index % plant.low_coverage_every == 5:
            coverage = 0.55
        if plant.poor_reporting_coverage and day >= reporting_start and index % 5:
            coverage = 0.42
        record = Day(day, scheduled, coverage if scheduled else 0.0)
        if scheduled:
            for _agent, device, planned_s, cycle_s in DEVICES:
                record.devices[device] = _device_sums(plant, after, shock, planned_s, cycle_s, rng)
            record.sums = {
                name: sum(device[name] for device in record.devices.values())
                for name in next(iter(record.devices.values()))
            }
        days.append(record)
    return days


def _device_sums(
    plant: Plant, after: bool, shock: float, planned_s: float, cycle_s: float, rng: random.Random
) -> dict[str, float]:
    k = 1 if after else 0
    availability = min(0.99, plant.availability[k] + shock)
    performance = min(0.99, plant.performance[k] + 0.5 * shock)
    quality = min(0.999, plant.quality[k] + 0.1 * shock)
    run_s = availability * planned_s
    ideal_count_s = performance * run_s
    total = round(ideal_count_s / cycle_s)
    good = round(quality * total)
    energy = (
        plant.energy_fixed_kwh[k] * planned_s / 86_400
        + plant.energy_per_part_kwh[k] * good * cycle_s / 12.0
        + rng.gauss(0.0, plant.energy_noise_kwh)
    )
    return {
        "planned_s": planned_s,
        "run_s": run_s,
        "down_s": 0.7 * (planned_s - run_s),
        "ideal_count_s": float(total * cycle_s),
        "ideal_good_s": float(good * cycle_s),
        "total_count": float(total),
        "good_count": float(good),
        "reject_count": float(total - good),
        "energy_kwh": energy,
    }


INPUTS = {
    "oee": ("ideal_good_s", "planned_s", "ideal_count_s", "good_count", "total_count"),
    "output_per_planned_hour": ("good_count", "planned_s"),
    "defect_rate": ("reject_count", "total_count"),
    "energy_per_unit": ("energy_kwh", "good_count", "planned_s"),
}


def kpi_value(kpi: str, sums: dict[str, float]) -> float | None:
    """The method's §1 formula over sums."""
    if not sums:
        return None
    if kpi == "oee":
        return sums["ideal_good_s"] / sums["planned_s"]
    if kpi == "output_per_planned_hour":
        return sums["good_count"] / (sums["planned_s"] / 3600)
    if kpi == "defect_rate":
        return sums["reject_count"] / sums["total_count"]
    if kpi == "energy_per_unit":
        return sums["energy_kwh"] / sums["good_count"]
    raise KeyError(kpi)


def _place(day: dt.date, baseline: PeriodDoc, reporting: PeriodDoc) -> str:
    if baseline.start <= day <= baseline.end:
        return "baseline"
    if reporting.start <= day <= reporting.end:
        return "reporting"
    if baseline.end < day < reporting.start:
        return "between"
    return "outside"


def _usable(day: Day) -> bool:
    return day.scheduled and day.coverage >= METHOD.min_coverage


def _sufficiency(kpi: str, role: str, period: PeriodDoc, days: Sequence[Day]) -> SufficiencyDoc:
    inside = [d for d in days if period.start <= d.day <= period.end]
    usable = [d for d in inside if _usable(d)]
    scheduled = [d for d in inside if d.scheduled]
    sums = {name: sum(d.sums[name] for d in usable) for name in INPUTS[kpi]}
    minimum = METHOD.min_data_days[kpi]
    reasons = ["too_few_usable_days"] if len(usable) < minimum else []
    coverage = (sum(d.coverage for d in scheduled) / len(scheduled)) if scheduled else None
    return SufficiencyDoc(
        role=role,
        period=period,
        calendar_days=len(inside),
        scheduled_days=len(scheduled),
        usable_days=len(usable),
        min_days=minimum,
        coverage=coverage,
        imported_share=0.62 if role == "baseline" else 0.0,
        comm_loss_share=None if coverage is None else 1.0 - coverage,
        reasons=reasons,
        sums=sums if usable else {},
        value=kpi_value(kpi, sums) if usable else None,
    )


def _change(
    kpi: str, target: TargetDoc, base: SufficiencyDoc, report: SufficiencyDoc, days: Sequence[Day]
) -> ChangeDoc:
    assert base.value is not None and report.value is not None
    if target.unit == "pp":
        change = 100.0 * (report.value - base.value)
    else:
        change = 100.0 * (report.value / base.value - 1.0)
    daily = [kpi_value(kpi, d.sums) for d in days if _usable(d)]
    spread = float(np.std([v for v in daily if v is not None]))
    scale = 100.0 if target.unit == "pp" else 100.0 / base.value
    se = 1.6 * spread * scale * math.sqrt(1 / base.usable_days + 1 / report.usable_days)
    hac_se = se * 1.07
    return ChangeDoc(
        unit=target.unit,
        baseline_value=base.value,
        reporting_value=report.value,
        change=change,
        confidence=0.95,
        bootstrap=IntervalDoc(low=change - Z * se, high=change + Z * se),
        bootstrap_se=se,
        block_lengths=(
            max(1, round(base.usable_days ** (1 / 3))),
            max(1, round(report.usable_days ** (1 / 3))),
        ),
        replicates=2000,
        seed=METHOD.seed,
        undefined_replicates=0,
        hac_change=change * 0.995,
        hac=IntervalDoc(low=change * 0.995 - Z * hac_se, high=change * 0.995 + Z * hac_se),
        hac_se=hac_se,
        hac_maxlags=4,
        mde=MDE_FACTOR * se,
        power=0.80,
    )


def _energy(base_days: Sequence[Day], report_days: Sequence[Day]) -> EnergyDoc:
    bx = np.array([d.sums["good_count"] for d in base_days])
    by = np.array([d.sums["energy_kwh"] for d in base_days])
    b1, b0 = np.polyfit(bx, by, 1)
    residuals = by - (b0 + b1 * bx)
    n, p = len(bx), 2
    mean = float(by.mean())
    cv = 100.0 * math.sqrt(float(residuals @ residuals) / (n - p)) / mean
    rho = max(0.0, float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1]))
    n_eff = n * (1 - rho) / (1 + rho)
    r2 = 1.0 - float(residuals @ residuals) / float(((by - mean) ** 2).sum())
    model = EnergyModelDoc(
        drivers=["good_count"],
        coefficients=[float(b0), float(b1)],
        n=n,
        p=p,
        mean_kwh=mean,
        r_squared=r2,
        cv_rmse_pct=cv,
        nmbe_pct=0.0,
        rho=rho,
        n_effective=n_eff,
        output_range=(float(bx.min()), float(bx.max())),
        meets_g14=cv <= METHOD.g14_max_cv_rmse_pct,
        failures=[] if cv <= METHOD.g14_max_cv_rmse_pct else [f"cv_rmse {cv:.2f} % > 20 %"],
    )
    rx = np.array([d.sums["good_count"] for d in report_days])
    ry = np.array([d.sums["energy_kwh"] for d in report_days])
    adjusted = float((b0 + b1 * rx).sum())
    actual = float(ry.sum())
    savings = 100.0 * (adjusted - actual) / adjusted
    m = len(rx)
    se = 100.0 * 1.26 * cv / 100.0 * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m)
    points = [
        EnergyPointDoc(
            day=d.day,
            role=role,
            good_count=d.sums["good_count"],
            planned_h=d.sums["planned_s"] / 3600,
            energy_kwh=d.sums["energy_kwh"],
            model_kwh=float(b0 + b1 * d.sums["good_count"]),
        )
        for role, group in (("baseline", base_days), ("reporting", report_days))
        for d in group
    ]
    return EnergyDoc(
        model=model,
        reporting_days=m,
        actual_kwh=actual,
        adjusted_baseline_kwh=adjusted,
        avoided_kwh=adjusted - actual,
        savings_pct=savings,
        se_pct=se,
        half_width_68_pct=se * 1.0,
        half_width_95_pct=se * 2.0,
        fsu_68=(se / savings) if savings > 0 else None,
        g14_uncertainty_ok=savings > 0 and se / savings < 0.5,
        extrapolated_days=int(((rx < bx.min()) | (rx > bx.max())).sum()),
        points=points,
    )


def _decide(target: TargetDoc, interval: IntervalDoc) -> str:
    if target.direction == "increase":
        return "pass" if interval.low >= target.size else "fail"
    return "pass" if interval.high <= -target.size else "fail"


def kpi_doc(
    target: TargetDoc, days: Sequence[Day], baseline: PeriodDoc, reporting: PeriodDoc
) -> KpiDoc:
    """One KPI's document from the simulated days, as the method computes it."""
    kpi = target.kpi
    base = _sufficiency(kpi, "baseline", baseline, days)
    report = _sufficiency(kpi, "reporting", reporting, days)
    daily = [
        DailyPointDoc(
            day=d.day,
            place=_place(d.day, baseline, reporting),
            value=kpi_value(kpi, d.sums) if d.scheduled else None,
            coverage=d.coverage if d.scheduled else None,
            usable=_usable(d),
        )
        for d in days
    ]
    devices = [_device_value(kpi, name, days, baseline, reporting) for _, name, _, _ in DEVICES]
    common = {
        "kpi": kpi,
        "target": target,
        "baseline": base,
        "reporting": report,
        "daily": daily,
        "devices": devices,
    }
    if base.reasons or report.reasons:
        return KpiDoc(
            status="insufficient_data",
            reasons=base.reasons + report.reasons,
            change=None,
            energy=None,
            interval=None,
            needed_for_80pct_pass=None,
            **common,
        )
    in_base = [d for d in days if _usable(d) and baseline.start <= d.day <= baseline.end]
    in_report = [d for d in days if _usable(d) and reporting.start <= d.day <= reporting.end]
    change = _change(kpi, target, base, report, in_base + in_report)
    if kpi == "energy_per_unit":
        return _energy_kpi(target, common, change, _energy(in_base, in_report))
    interval = IntervalDoc(
        low=min(change.bootstrap.low, change.hac.low),
        high=max(change.bootstrap.high, change.hac.high),
    )
    return KpiDoc(
        status=_decide(target, interval),
        reasons=[],
        change=change,
        energy=None,
        interval=interval,
        needed_for_80pct_pass=target.size + change.mde,
        **common,
    )


def _energy_kpi(
    target: TargetDoc, common: dict[str, object], change: ChangeDoc, energy: EnergyDoc
) -> KpiDoc:
    if not energy.model.meets_g14:
        return KpiDoc(
            status="insufficient_data",
            reasons=["energy_model_fails_g14"],
            change=change,
            energy=energy,
            interval=None,
            needed_for_80pct_pass=None,
            **common,
        )
    half = energy.half_width_95_pct
    interval = IntervalDoc(low=-(energy.savings_pct + half), high=-(energy.savings_pct - half))
    return KpiDoc(
        status=_decide(target, interval),
        reasons=[],
        change=change,
        energy=energy,
        interval=interval,
        needed_for_80pct_pass=target.size + MDE_FACTOR * energy.se_pct,
        **common,
    )


def _device_value(
    kpi: str, device: str, days: Sequence[Day], baseline: PeriodDoc, reporting: PeriodDoc
) -> DeviceValueDoc:
    def period_value(period: PeriodDoc) -> float | None:
        usable = [d for d in days if _usable(d) and period.start <= d.day <= period.end]
        sums = {name: sum(d.devices[device][name] for d in usable) for name in INPUTS[kpi]}
        return kpi_value(kpi, sums) if usable else None

    return DeviceValueDoc(
        device=device,
        baseline_value=period_value(baseline),
        reporting_value=period_value(reporting),
    )


def device_days(days: Sequence[Day]) -> list[DeviceDayDoc]:
    """The document's inputs: one row per device and scheduled day."""
    rows = []
    for d in days:
        for agent, device, planned_s, cycle_s in DEVICES:
            sums = d.devices.get(device)
            if sums is None:
                continue
            start = dt.datetime(d.day.year, d.day.month, d.day.day, tzinfo=dt.UTC) - dt.timedelta(
                hours=8
            )
            rows.append(
                DeviceDayDoc(
                    agent=agent,
                    device=device,
                    provenance="measured",
                    day=d.day,
                    windows=1440,
                    partial_windows=0,
                    config_digests=1,
                    scheduled_s=planned_s + 3600,
                    planned_s=planned_s,
                    run_s=sums["run_s"],
                    idle_s=0.0,
                    down_s=sums["down_s"],
                    off_s=86_400 - planned_s - 3600,
                    planned_stop_s=3600.0,
                    total_count=int(sums["total_count"]),
                    good_count=int(sums["good_count"]),
                    reject_count=int(sums["reject_count"]),
                    energy_kwh=sums["energy_kwh"],
                    ideal_count_s=sums["ideal_count_s"],
                    ideal_good_s=sums["ideal_good_s"],
                    duration_s=86_400.0,
                    comm_loss_s=(1 - d.coverage) * (planned_s + 3600),
                    scheduled_comm_loss_s=(1 - d.coverage) * (planned_s + 3600),
                    samples=86_400,
                    missed_polls=0,
                    bad_values=0,
                    counter_resets=0,
                    meter_resets=0,
                    clock_jumps=0,
                    ideal_cycle_s_min=cycle_s,
                    ideal_cycle_s_max=cycle_s,
                    first_start=start,
                    last_end=start + dt.timedelta(days=1),
                )
            )
    return rows


TARGETS = (
    TargetDoc(kpi="oee", direction="increase", size=3.0, unit="pp", required=True),
    TargetDoc(
        kpi="output_per_planned_hour", direction="increase", size=5.0, unit="%", required=True
    ),
    TargetDoc(kpi="energy_per_unit", direction="decrease", size=5.0, unit="%", required=True),
    TargetDoc(kpi="defect_rate", direction="decrease", size=10.0, unit="%", required=False),
)
BASELINE = PeriodDoc(start=dt.date(2024, 1, 2), end=dt.date(2024, 3, 31))
GO_LIVE = dt.date(2024, 5, 6)
REPORTING = PeriodDoc(start=dt.date(2024, 6, 1), end=dt.date(2024, 8, 31))


def _enterprise(name: str, ident: str, cost_fen: int) -> EnterpriseDoc:
    return EnterpriseDoc(
        id=ident,
        name=name,
        industry="通用设备制造业",
        timezone="Asia/Shanghai",
        solution="冲压与数控设备联网、生产执行系统（MES）轻量化部署、能耗计量",
        retrofit_cost_fen=cost_fen,
        baseline=BASELINE,
        go_live=GO_LIVE,
        reporting=REPORTING,
        targets=list(TARGETS),
    )


def _attempt(
    number: int, reporting: PeriodDoc, days: Sequence[Day], rectification: dt.date | None = None
) -> AttemptDoc:
    kpis = [kpi_doc(target, days, BASELINE, reporting) for target in TARGETS]
    required = [k.status for k in kpis if k.target.required]
    status = (
        "fail"
        if "fail" in required
        else ("pass" if all(s == "pass" for s in required) else "insufficient_data")
    )
    return AttemptDoc(
        number=number,
        kind="original" if number == 1 else "rectification",
        rectification_date=rectification,
        reporting=reporting,
        status=status,
        kpis=kpis,
    )


FLAGS = [
    FlagDoc(
        check="count_faster_than_ideal",
        severity="warning",
        device="press-01",
        days=[dt.date(2024, 7, 3), dt.date(2024, 7, 4)],
        figures={
            "days": 2,
            "max_performance": 1.083,
            "days_without_run_time": 0,
            "limit": 1.05,
            "ideal_cycle_s_min": 12.0,
            "ideal_cycle_s_max": 12.0,
            "total_count": 9876,
        },
    ),
    FlagDoc(
        check="ideal_cycle_changed",
        severity="serious",
        device="cnc-02",
        days=[dt.date(2024, 5, 6)],
        figures={
            "baseline_min_s": 40.0,
            "baseline_max_s": 40.0,
            "reporting_min_s": 45.0,
            "reporting_max_s": 45.0,
            "ratio": 1.125,
            "first_changed_day": "2024-05-06",
            "days_from_go_live": 0,
        },
    ),
    FlagDoc(
        check="a_check_from_a_newer_engine",
        severity="info",
        device=None,
        days=[],
        figures={"ratio": 0.5, "note": "text"},
    ),
]


def _subsidy(passed: bool, cost_fen: int) -> SubsidyDoc:
    share = cost_fen * 30 // 100
    subsidy = min(share, 30_000_000) if passed else 0
    return SubsidyDoc(
        passed=passed,
        cost_fen=cost_fen,
        share_fen=share,
        subsidy_fen=subsidy,
        capped=passed and share > 30_000_000,
    )


def evidence(
    name: str,
    ident: str,
    attempts: list[AttemptDoc],
    days: Sequence[Day],
    flags: list[FlagDoc],
    cost_fen: int = 85_000_001,
) -> EnterpriseEvidence:
    """An enterprise's document; status and subsidy follow its last attempt."""
    status = attempts[-1].status
    return EnterpriseEvidence(
        software=SOFTWARE,
        method=METHOD,
        plan=PLAN,
        province=PROVINCE,
        batch_year=2024,
        platform=PLATFORM,
        enterprise=_enterprise(name, ident, cost_fen),
        agents=[
            AgentDoc(
                id="gw-01",
                public_key="MCowBQYDK2VwAyEA" + "q" * 28,
                devices=["press-01", "cnc-02"],
                revoked=False,
            )
        ],
        attempts=attempts,
        status=status,
        flags=flags,
        integrity=IntegrityDoc(
            seq_gaps=[SeqGapDoc(agent="gw-01", first_seq=1201, last_seq=1203, closed=True)],
            quarantined={"gw-01": {"bad_signature": 2, "seq_replay": 1}},
        ),
        subsidy=_subsidy(status == "pass", cost_fen),
        device_days=device_days(days),
    )


def passing() -> EnterpriseEvidence:
    """OEE +6 pp, output +7 %, energy per unit −11 %: passes, with two flags."""
    days = simulate(Plant(), BASELINE.start, REPORTING.end, GO_LIVE, REPORTING.start)
    return evidence(
        "杭州精工阀门有限公司", "e-hz-valve-01", [_attempt(1, REPORTING, days)], days, FLAGS
    )


RECTIFICATION_DATE = dt.date(2024, 10, 15)
SECOND_REPORTING = PeriodDoc(start=dt.date(2024, 11, 1), end=dt.date(2025, 1, 31))


def rectified(final: str = "pass") -> EnterpriseEvidence:
    """Attempt 1 fails (too small a gain); after rectification (整改) attempt 2 ``final``."""
    weak = Plant(availability=(0.84, 0.855), performance=(0.80, 0.805), seed=11)
    days = simulate(weak, BASELINE.start, REPORTING.end, GO_LIVE, REPORTING.start)
    later = Plant(seed=11) if final == "pass" else weak
    later_days = simulate(later, BASELINE.start, SECOND_REPORTING.end, GO_LIVE, REPORTING.start)
    first = _attempt(1, REPORTING, days)
    second = _attempt(2, SECOND_REPORTING, later_days, RECTIFICATION_DATE)
    return evidence(
        "宁波东海液压件制造有限公司",
        "e-nb-hydraulic-02",
        [first, second],
        later_days,
        [],
        cost_fen=120_000_000,
    )


def insufficient() -> EnterpriseEvidence:
    """Reporting coverage mostly below 80 % and an energy model outside Guideline 14."""
    plant = Plant(poor_reporting_coverage=True, energy_noise_kwh=260.0, seed=3)
    days = simulate(plant, BASELINE.start, REPORTING.end, GO_LIVE, REPORTING.start)
    return evidence(
        "温州瓯江泵阀有限公司",
        "e-wz-pump-03",
        [_attempt(1, REPORTING, days)],
        days,
        [FLAGS[0].model_copy(update={"severity": "serious"})],
    )


HOSTILE_NAME = '<script>alert("企业")</script>{0}{name}</style>'


def hostile() -> EnterpriseEvidence:
    """Every free text tries to inject markup, format fields or CSS."""
    doc = passing()
    evil_device = '"><img src=x onerror=alert(1)>'
    enterprise = doc.enterprise.model_copy(
        update={
            "name": HOSTILE_NAME,
            "solution": "</td></tr></table><h1>forged</h1>",
            "industry": "{period}",
            "id": "e-<b>01</b>",
        }
    )
    flag = FlagDoc(
        check="<i>check</i>",
        severity="serious",
        device=evil_device,
        days=[],
        figures={"<k>": "<v>", "device_note": "{0.__class__}"},
    )
    attempts = [
        attempt.model_copy(
            update={
                "kpis": [
                    kpi.model_copy(
                        update={
                            "devices": [
                                DeviceValueDoc(
                                    device=evil_device, baseline_value=0.5, reporting_value=0.6
                                )
                            ]
                        }
                    )
                    for kpi in attempt.kpis
                ]
            }
        )
        for attempt in doc.attempts
    ]
    platform = doc.platform.model_copy(update={"name": "<iframe src=//evil>平台"})
    return doc.model_copy(
        update={
            "enterprise": enterprise,
            "flags": [flag],
            "attempts": attempts,
            "platform": platform,
        }
    )


def summary_line(doc: EnterpriseEvidence) -> EnterpriseSummaryDoc:
    """An enterprise's line in a roll-up, with the hash of its JSON."""
    import hashlib

    return EnterpriseSummaryDoc(
        id=doc.enterprise.id,
        name=doc.enterprise.name,
        status=doc.status,
        attempts=len(doc.attempts),
        flags=len(doc.flags),
        serious_flags=sum(1 for f in doc.flags if f.severity == "serious"),
        evidence_sha256=hashlib.sha256(canonical_json(doc)).hexdigest(),
        subsidy=doc.subsidy,
    )


def rollup(
    lines: Sequence[EnterpriseSummaryDoc], platform: PlatformDoc = PLATFORM
) -> PlatformRollup:
    """A platform's roll-up over these lines (method §7 arithmetic)."""
    passed = [line for line in lines if line.status == "pass"]
    uncapped = sum(line.subsidy.subsidy_fen for line in passed)
    return PlatformRollup(
        software=SOFTWARE,
        plan=PLAN,
        province=PROVINCE,
        batch_year=2024,
        platform=platform,
        enterprises=list(lines),
        passed_count=len(passed),
        minimum=10,
        minimum_met=len(passed) >= 10,
        uncapped_total_fen=uncapped,
        total_fen=min(uncapped, 600_000_000),
        platform_capped=uncapped > 600_000_000,
    )


def many_lines(count: int, passed: int, cost_fen: int = 150_000_000) -> list[EnterpriseSummaryDoc]:
    """``count`` synthetic roll-up lines, the first ``passed`` of them passed."""
    cities = (
        "杭州",
        "宁波",
        "温州",
        "嘉兴",
        "湖州",
        "绍兴",
        "金华",
        "衢州",
        "舟山",
        "台州",
        "丽水",
    )
    lines = []
    for i in range(count):
        ok = i < passed
        status = "pass" if ok else ("fail" if i % 2 else "insufficient_data")
        lines.append(
            EnterpriseSummaryDoc(
                id=f"e-{i + 1:02d}",
                name=f"{cities[i % len(cities)]}第{i + 1}阀门厂",
                status=status,
                attempts=1 + (i % 3 == 2),
                flags=i % 4,
                serious_flags=1 if i % 7 == 3 else 0,
                evidence_sha256=f"{i:02x}" * 32,
                subsidy=_subsidy(ok, cost_fen + i * 1_000_001),
            )
        )
    return lines


def province(rollups: Sequence[PlatformRollup]) -> ProvinceSummary:
    """A province's summary over these roll-ups."""
    import hashlib

    platforms = [
        PlatformSummaryDoc(
            id=r.platform.id,
            name=r.platform.name,
            sub_industry=r.platform.sub_industry.name,
            enterprises=len(r.enterprises),
            passed_count=r.passed_count,
            minimum_met=r.minimum_met,
            total_fen=r.total_fen,
            platform_capped=r.platform_capped,
            rollup_sha256=hashlib.sha256(canonical_json(r)).hexdigest(),
        )
        for r in rollups
    ]
    return ProvinceSummary(
        software=SOFTWARE,
        plan=PLAN,
        province=PROVINCE,
        batch_year=2024,
        platforms=platforms,
        enterprises=sum(p.enterprises for p in platforms),
        passed_count=sum(p.passed_count for p in platforms),
        total_fen=sum(p.total_fen for p in platforms),
    )


SECOND_PLATFORM = PlatformDoc(
    id="plat-motors",
    name="宁波电机智造云平台有限公司",
    sub_industry=SubIndustryDoc(id="motors", name="中小型电机", category="电气机械和器材制造业"),
)


def energy_model_fails() -> EnterpriseEvidence:
    """Enough days, but daily energy so noisy that the baseline model fails Guideline 14."""
    plant = Plant(energy_noise_kwh=150.0, seed=5)
    days = simulate(plant, BASELINE.start, REPORTING.end, GO_LIVE, REPORTING.start)
    attempt = _attempt(1, REPORTING, days)
    return evidence("嘉兴南湖电机有限公司", "e-jx-motor-04", [attempt], days, [])
