"""``retrofit-collector evidence`` on the energy baseline's sufficiency (issue #16, method §4),
against a real influxd: the same plant judged on a 42-day baseline (30 usable days, strongly
autocorrelated daily energy), on a 120-day baseline, and on the 120-day baseline with output
raised after go-live beyond the baseline's range.

The plant works Monday to Friday, 08:00–16:00 local, in hourly windows: availability 70 % ± 5
pp a day, parts at an ideal cycle of 20 s, energy 200 kWh a day + 0.5 kWh a good part, with
day-to-day noise of SD 15 kWh and lag-1 correlation 0.7 (a plant whose load drifts over days:
heating, a compressor's leaks). After go-live the same output takes 15 % less energy; the
target is an 8 % decrease.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from collector.cli import app
from collector.plan import parse_plan
from collector.registry import Registry
from collector.store import WindowRecord, affected_days
from contract import wire
from stack import InfluxServer
from tests.collector.evidence.helpers import ar1
from tests.collector.store_helpers import open_store, quality, window

pytestmark = pytest.mark.timeout(300)

ZONE = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no daylight saving
HOUR = 3600
SHORT, LONG, BUSIER = "plat-a-e01", "plat-a-e02", "plat-a-e03"
FIRST_DAY, GO_LIVE = dt.date(2025, 12, 29), dt.date(2026, 5, 6)
REPORTING = (dt.date(2026, 6, 1), dt.date(2026, 8, 30))


def _key() -> str:
    return wire.public_key_text(Ed25519PrivateKey.generate().public_key())


def _enterprise(eid: str, baseline_start: dt.date) -> dict[str, object]:
    return {
        "id": eid,
        "name": f"企业 {eid}",
        "industry": "汽车零部件及配件制造 C3670",
        "retrofit_cost_cny": "500000.00",
        "solution": "设备联网与能耗看板",
        # Both baselines end on the same day: the 42-day one is the last 42 days of the other.
        "baseline": {"start": baseline_start.isoformat(), "end": "2026-04-27"},
        "go_live": GO_LIVE.isoformat(),
        "reporting": {"start": REPORTING[0].isoformat(), "end": REPORTING[1].isoformat()},
        "targets": {"energy_per_unit": {"direction": "decrease", "size": 8, "unit": "%"}},
        "agents": [{"id": f"{eid}-gw", "public_key": _key(), "devices": ["press-1"]}],
    }


def _plan_text() -> str:
    short_start = dt.date(2026, 4, 27) - dt.timedelta(days=41)
    plan = {
        "province": {"code": "330200", "name": "浙江省宁波市"},
        "batch_year": 2026,
        "implementation_period": {"start": "2026-01-01", "end": "2026-12-31"},
        "sub_industries": [{"id": "auto-parts", "name": "汽车零部件", "category": "auto_parts"}],
        "platforms": [
            {
                "id": "plat-a",
                "name": "平台 plat-a",
                "sub_industry": "auto-parts",
                # Ten enterprises (the programme's minimum); e03..e10 send nothing.
                "enterprises": [_enterprise(SHORT, short_start), _enterprise(LONG, FIRST_DAY)]
                + [_enterprise(f"plat-a-e{n:02d}", FIRST_DAY) for n in range(3, 11)],
            }
        ],
    }
    return yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)


def _plant_days() -> list[tuple[dt.date, float, float]]:
    """(day, availability, daily energy noise kWh) for every working day, one plant."""
    working = [
        FIRST_DAY + dt.timedelta(days=i)
        for i in range((REPORTING[1] - FIRST_DAY).days + 1)
        if (FIRST_DAY + dt.timedelta(days=i)).weekday() < 5
    ]
    rng = np.random.default_rng(20261207)
    availability = np.clip(0.70 + rng.normal(0, 0.05, size=len(working)), 0.4, 0.95)
    noise = ar1(rng, (len(working),), rho=0.7, sd=15.0)
    return [(d, float(a), float(e)) for d, a, e in zip(working, availability, noise, strict=True)]


def _windows(eid: str, gain: float = 0.0) -> list[WindowRecord]:
    """The plant's windows for ``eid``; ``gain`` adds to the availability after go-live."""
    records: list[WindowRecord] = []
    for day, before, noise in _plant_days():
        if GO_LIVE <= day < REPORTING[0]:
            continue
        factor = 0.85 if day >= GO_LIVE else 1.0
        availability = min(before + gain, 0.98) if day >= GO_LIVE else before
        run = availability * HOUR
        total = int(0.85 * run / 20.0)
        good = total - total // 50
        hourly_kwh = factor * (200.0 + 0.5 * good * 8 + noise) / 8
        for hour in range(8, 16):
            end = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE) + dt.timedelta(hours=1)
            win = window(
                end.astimezone(dt.UTC), device="press-1", seconds=HOUR,
                quality=quality(samples=HOUR), scheduled_s=float(HOUR), planned_s=float(HOUR),
                run_s=run, idle_s=(HOUR - run) / 2, down_s=(HOUR - run) / 2,
                total_count=total, good_count=good, reject_count=total // 50,
                energy_kwh=hourly_kwh, ideal_cycle_s=20.0,
            )  # fmt: skip
            records.append(WindowRecord("plat-a", eid, f"{eid}-gw", len(records) + 1, win))
    return records


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    workdir = tmp_path_factory.mktemp("energy")
    influxd = InfluxServer(workdir / "influxd")
    try:
        influxd.start()
        yield _load(workdir, influxd)
    finally:
        influxd.stop()


def _load(workdir: Path, influxd: InfluxServer) -> Path:
    registry_path = workdir / "registry.sqlite"
    with Registry(registry_path) as registry:
        registry.load_plan(parse_plan(_plan_text(), "plan.yaml"), by="test")
    # e03: the 120-day baseline's plant, 20 pp more available after go-live (more output).
    records = _windows(SHORT) + _windows(LONG) + _windows(BUSIER, gain=0.20)
    zones = dict.fromkeys((SHORT, LONG, BUSIER), "Asia/Shanghai")

    async def store_windows() -> None:
        async with open_store(influxd) as store:
            await store.write(records)
            await store.refresh_days(affected_days(records, zones))

    asyncio.run(store_windows())
    path = workdir / "collector.yaml"
    settings = {
        "registry": str(registry_path),
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": influxd.url, "database": "rv"},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


def _evidence(config: Path, enterprise: str, out: Path) -> tuple[str, dict[str, Any]]:
    result = CliRunner().invoke(
        app,
        ["evidence", enterprise, "--out", str(out), "--config", str(config), "--reports", "html"],
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    energy = next(k for k in doc["attempts"][0]["kpis"] if k["kpi"] == "energy_per_unit")
    return result.stdout, energy


def test_a_short_autocorrelated_baseline_is_insufficient_and_says_n_prime(
    config: Path, tmp_path: Path
) -> None:
    stdout, kpi = _evidence(config, SHORT, tmp_path / "short")
    assert kpi["baseline"]["usable_days"] == 30  # six weeks of Mondays to Fridays
    assert kpi["status"] == "insufficient_data", kpi["reasons"]
    assert "energy_baseline_few_effective_days" in kpi["reasons"]
    check = kpi["energy"]["baseline_check"]
    model = kpi["energy"]["model"]
    print(f"42-day baseline: rho {model['rho']:.3f}, n' {check['n_effective']:.2f}, {check}")
    assert check["n_effective"] == pytest.approx(30 * (1 - model["rho"]) / (1 + model["rho"]))
    assert check["n_effective"] < check["min_effective_days"] == 12
    assert f"{SHORT}: insufficient_data" in stdout
    # The report names n′ and the figures behind it, in both languages.
    n_prime = f"{check['n_effective']:.1f}"
    english = (tmp_path / "short" / "report.en.html").read_text(encoding="utf-8")
    assert f"n′ = {n_prime} effectively independent days, fewer than the 12" in english
    chinese = (tmp_path / "short" / "report.zh-CN.html").read_text(encoding="utf-8")
    assert f"等效独立天数 n′ = {n_prime}，少于最低要求 12" in chinese


def test_a_120_day_baseline_of_the_same_plant_is_judged(config: Path, tmp_path: Path) -> None:
    stdout, kpi = _evidence(config, LONG, tmp_path / "long")
    assert kpi["baseline"]["usable_days"] == 86
    check = kpi["energy"]["baseline_check"]
    energy = kpi["energy"]
    print(
        f"120-day baseline: rho {energy['model']['rho']:.3f}, n' {check['n_effective']:.2f}, "
        f"savings {energy['savings_pct']:.2f} % ± {energy['half_width_95_pct']:.2f}, "
        f"{kpi['status']}, {check}"
    )
    assert check["reasons"] == [] and check["n_effective"] >= 12
    assert kpi["status"] in ("pass", "fail"), kpi["reasons"]
    # A 15 % saving against an 8 % target, on the figures: savings − U95 ≥ 8.
    assert energy["savings_pct"] == pytest.approx(15.0, abs=2.0)
    expected = "pass" if energy["savings_pct"] - energy["half_width_95_pct"] >= 8 else "fail"
    assert kpi["status"] == expected
    assert energy["dof"] == energy["model"]["n"] - energy["model"]["p"]
    assert f"{LONG}: {expected}" in stdout


def test_reporting_output_beyond_the_baseline_range_is_insufficient_and_says_the_range(
    config: Path, tmp_path: Path
) -> None:
    _, kpi = _evidence(config, BUSIER, tmp_path / "busier")
    check = kpi["energy"]["baseline_check"]
    low, high = kpi["energy"]["model"]["output_range"]
    print(f"busier plant: range {low:.0f}-{high:.0f}, {check}")
    assert kpi["status"] == "insufficient_data"
    assert kpi["reasons"] == ["energy_reporting_outside_baseline_range"]
    assert check["n_effective"] >= 12  # the same long baseline: only the range is at fault
    outside = [
        p for p in kpi["energy"]["points"]
        if p["role"] == "reporting" and not low <= p["good_count"] <= high
    ]  # fmt: skip
    assert check["outside_days"] == len(outside) and check["outside_share"] > 0.10
    english = html.unescape((tmp_path / "busier" / "report.en.html").read_text(encoding="utf-8"))
    sentence = (
        f"{check['outside_days']} of {check['reporting_days']} reporting days "
        f"({100 * check['outside_share']:.1f} %) have output outside the baseline's range "
        f"(output {low:,.0f} – {high:,.0f})"
    )
    assert sentence in english, sentence
