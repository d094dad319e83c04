"""Evidence documents for the web app's tests, shaped like the engine's (document.py).

The figures are made up but consistent: each KPI's daily points move by the change its
verdict claims, intervals bracket the change, flags quote their numbers. The web app only
reads documents; the engine's own tests check the figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from collector.bundle import MANIFEST_NAME, Manifest, ManifestFile
from collector.evidence.document import (
    AgentDoc,
    AttemptDoc,
    ChangeDoc,
    DailyPointDoc,
    EnterpriseDoc,
    EnterpriseEvidence,
    FlagDoc,
    IntegrityDoc,
    IntervalDoc,
    KpiDoc,
    MethodDoc,
    PeriodDoc,
    PlanRefDoc,
    PlatformDoc,
    ProvinceDoc,
    SoftwareDoc,
    SubIndustryDoc,
    SubsidyDoc,
    SufficiencyDoc,
    TargetDoc,
    canonical_json,
)
from collector.evidence.subsidy import EnterpriseOutcome, enterprise_subsidy
from collector.report import Lang, report_name
from collector.report.html import enterprise_html
from collector.web.directory import EnterpriseRef
from tests.collector.report.digital_samples import digital_level

SOFTWARE = SoftwareDoc(
    retrofit_verify="0.1.0", python="3.11", numpy="2.4", scipy="1.17", statsmodels="0.15"
)
METHOD = MethodDoc(
    seed=20220722,
    replicates=2000,
    confidence=0.9,
    power=0.8,
    mde_factor=2.49,
    min_coverage=0.8,
    max_reporting_imported_share=0.2,
    min_data_days={"oee": 14, "energy_per_unit": 21},
    g14_max_cv_rmse_pct=20.0,
    g14_max_abs_nmbe_pct=0.5,
    g14_max_fsu_68=0.5,
)


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _period(start: dt.date, end: dt.date) -> PeriodDoc:
    return PeriodDoc(start=start, end=end)


def _sufficiency(
    role: str, start: dt.date, end: dt.date, value: float, usable: int
) -> SufficiencyDoc:
    days = (end - start).days + 1
    return SufficiencyDoc(
        role=role,
        period=_period(start, end),
        calendar_days=days,
        scheduled_days=days - days // 7,
        usable_days=usable,
        min_days=14,
        coverage=0.93 if usable >= 14 else 0.41,
        imported_share=0.0,
        comm_loss_share=0.02,
        reasons=[] if usable >= 14 else ["too_few_days"],
        sums={"planned_s": 86400.0 * usable, "ideal_count_s": 86400.0 * usable * value},
        value=value,
    )


def evidence_document(
    ref: EnterpriseRef, status: str, *, plan_version: int = 1
) -> EnterpriseEvidence:
    """A document for the enterprise with the given overall status (pass, fail, ...)."""
    e, p = ref.enterprise, ref.platform
    base_value, change_pp = 0.62, {"pass": 7.1, "fail": 1.2, "insufficient_data": 3.0}[status]
    report_value = base_value + change_pp / 100
    kpis = []
    for kpi, target in sorted(e.targets.items()):
        points = [
            DailyPointDoc(
                day=day,
                place=place,
                usable=True,
                coverage=0.95,
                value=(base_value if place == "baseline" else report_value) + 0.01 * (day.day % 3),
            )
            for place, start, end in (
                ("baseline", e.baseline.start, e.baseline.end),
                ("reporting", e.reporting.start, e.reporting.end),
            )
            for day in _days(start, end)
        ]
        usable = 9 if status == "insufficient_data" else 40
        decided = status != "insufficient_data"
        kpis.append(
            KpiDoc(
                kpi=kpi,
                target=TargetDoc(
                    kpi=kpi,
                    direction=target.direction,
                    size=target.size,
                    unit=target.unit,
                    required=target.required,
                ),
                status=status if target.required else "pass",
                reasons=[] if decided else ["reporting_too_few_days"],
                baseline=_sufficiency("baseline", e.baseline.start, e.baseline.end, base_value, 50),
                reporting=_sufficiency(
                    "reporting", e.reporting.start, e.reporting.end, report_value, usable
                ),
                change=ChangeDoc(
                    unit=target.unit,
                    baseline_value=base_value,
                    reporting_value=report_value,
                    change=change_pp,
                    confidence=0.9,
                    bootstrap=IntervalDoc(low=change_pp - 1.6, high=change_pp + 1.7),
                    bootstrap_se=1.0,
                    block_lengths=(4, 4),
                    replicates=2000,
                    seed=20220722,
                    undefined_replicates=0,
                    hac_change=change_pp,
                    hac=IntervalDoc(low=change_pp - 1.5, high=change_pp + 1.5),
                    hac_se=0.9,
                    hac_maxlags=3,
                    mde=2.4,
                    power=0.8,
                ),
                energy=None,
                interval=IntervalDoc(low=change_pp - 1.6, high=change_pp + 1.7)
                if decided
                else None,
                needed_for_80pct_pass=None,
                daily=points,
                devices=[],
            )
        )
    flags = []
    if status == "pass":
        flags.append(
            FlagDoc(
                check="config_change_at_go_live",
                severity="warning",
                device="press-1",
                days=[e.go_live],
                figures={
                    "device": "press-1",
                    "ideal_cycle_s_before": 4.0,
                    "ideal_cycle_s_after": 3.6,
                },
            )
        )
    subsidy = enterprise_subsidy(EnterpriseOutcome(e.id, status == "pass", e.retrofit_cost_fen))
    return EnterpriseEvidence(
        software=SOFTWARE,
        method=METHOD,
        plan=PlanRefDoc(key=p.plan_key, version=plan_version, digest="sha256:" + "0" * 64),
        province=ProvinceDoc(code=p.province.code, name=p.province.name),
        batch_year=p.batch_year,
        platform=PlatformDoc(
            id=p.id,
            name=p.platform.name,
            sub_industry=SubIndustryDoc(
                id=p.sub_industry.id, name=p.sub_industry.name, category=p.sub_industry.category
            ),
        ),
        enterprise=EnterpriseDoc(
            id=e.id,
            name=e.name,
            industry=e.industry,
            solution=e.solution,
            timezone=e.timezone,
            retrofit_cost_fen=e.retrofit_cost_fen,
            baseline=_period(e.baseline.start, e.baseline.end),
            go_live=e.go_live,
            reporting=_period(e.reporting.start, e.reporting.end),
            targets=[
                TargetDoc(
                    kpi=k, direction=t.direction, size=t.size, unit=t.unit, required=t.required
                )
                for k, t in sorted(e.targets.items())
            ],
        ),
        agents=[
            AgentDoc(id=a.id, public_key=a.public_key, devices=list(a.devices), revoked=False)
            for a in e.agents
        ],
        attempts=[
            AttemptDoc(
                number=1,
                kind="original",
                rectification_date=None,
                reporting=_period(e.reporting.start, e.reporting.end),
                status=status,
                kpis=kpis,
            )
        ],
        status=status,
        flags=flags,
        integrity=IntegrityDoc(seq_gaps=[], quarantined={}),
        subsidy=SubsidyDoc(
            passed=subsidy.passed,
            cost_fen=subsidy.cost_fen,
            share_fen=subsidy.share_fen,
            subsidy_fen=subsidy.subsidy_fen,
            capped=subsidy.capped,
        ),
        device_days=[],
        digital_level=digital_level() if status == "pass" else None,
    )


def write_bundle(document: EnterpriseEvidence, folder: Path) -> None:
    """The bundle as ``write_enterprise_bundle`` writes it, without the PDFs.

    JSON, both HTML reports from the real renderer, and the real manifest format: only the
    PDFs (seconds of WeasyPrint each) are left out, so the tests' twenty bundles take no
    minutes. The evidence-run tests write whole bundles through the real writer.
    """
    files = {"evidence.json": canonical_json(document)}
    pairs: tuple[tuple[Lang, Lang], ...] = (("zh-CN", "en"), ("en", "zh-CN"))
    for lang, other in pairs:
        html = enterprise_html(document, lang, sibling=report_name(other, "html"))
        files[report_name(lang, "html")] = html.encode("utf-8")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = Manifest(
        kind="enterprise",
        files=[
            ManifestFile(path=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
            for name, data in sorted(files.items())
        ],
    )
    (folder / MANIFEST_NAME).write_bytes(canonical_json(manifest))
