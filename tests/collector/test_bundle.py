"""Gather, bundle writer and CLI against a real influxd: windows written through the store,
rollups computed, evidence built from the rollups, a manifest that seals the files."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from agent import wire
from collector.cli import app
from collector.registry import Registry, load_plan
from collector.store import WindowRecord
from stack import InfluxServer
from tests.collector.store_helpers import open_store, quality, window

pytestmark = pytest.mark.timeout(300)

PLAN = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
ZONE = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no daylight saving
ENTERPRISE, AGENT = "plat-a-e01", "plat-a-e01-gw"
CLI = str(Path(sys.executable).with_name("retrofit-collector"))
HOUR = 3600


def _windows(first: dt.date, last: dt.date, availability: float, seed: int) -> list[WindowRecord]:
    """Hourly windows of press-1 from 08:00 to 16:00 local (8 scheduled hours a day), and the
    other hours unscheduled; parts at an ideal cycle of 20 s, energy 25 kWh + 0.5 a part."""
    rng = np.random.default_rng(seed)
    records = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        a = float(np.clip(availability + rng.normal(0, 0.03), 0.1, 1.0))
        for hour in range(24):
            end = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE) + dt.timedelta(hours=1)
            if 8 <= hour < 16:
                run = a * HOUR
                total = int(0.85 * run / 20.0)
                changes: dict[str, object] = {
                    "scheduled_s": float(HOUR),
                    "planned_s": float(HOUR),
                    "run_s": run,
                    "idle_s": (HOUR - run) / 2,
                    "down_s": (HOUR - run) / 2,
                    "total_count": total,
                    "good_count": total - total // 50,
                    "reject_count": total // 50,
                    "energy_kwh": 25.0 + 0.5 * total + float(rng.normal(0, 2)),
                    "ideal_cycle_s": 20.0,
                }
            else:
                changes = {
                    "scheduled_s": 0.0,
                    "planned_s": 0.0,
                    "run_s": 0.0,
                    "idle_s": 0.0,
                    "down_s": 0.0,
                    "total_count": 0,
                    "good_count": 0,
                    "reject_count": 0,
                    "energy_kwh": 2.0,
                }
            win = window(
                end.astimezone(dt.UTC), device="press-1", seconds=HOUR,
                quality=quality(samples=HOUR), **changes,
            )  # fmt: skip
            records.append(WindowRecord("plat-a", ENTERPRISE, AGENT, len(records) + 1, win))
    return records


def _setup(tmp_path: Path, influxd: InfluxServer) -> tuple[Path, list[WindowRecord]]:
    """A registry with the plan, integrity findings, and windows in InfluxDB with rollups."""
    registry_path = tmp_path / "registry.sqlite"
    with Registry(registry_path) as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        for seq in (1, 2, 5):  # seqs 3..4 never arrive
            registry.record_seq(AGENT, seq, hashlib.sha256(bytes([seq])).hexdigest())
        registry.quarantine_add(
            b"forged", topic=wire.windows_topic("plat-a", ENTERPRISE, AGENT),
            received_at=dt.datetime(2026, 6, 2, tzinfo=dt.UTC), reason_code="bad_signature",
            detail="signature does not verify",
        )  # fmt: skip
    records = _windows(dt.date(2026, 2, 2), dt.date(2026, 3, 29), 0.70, seed=1)
    records += _windows(dt.date(2026, 6, 1), dt.date(2026, 8, 30), 0.85, seed=2)

    async def store_windows() -> None:
        async with open_store(influxd) as store:
            await store.write(records)
            await store.refresh_daily(records, {ENTERPRISE: "Asia/Shanghai"})

    asyncio.run(store_windows())
    config = tmp_path / "collector.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "registry": str(registry_path),
                "broker": {"host": "127.0.0.1"},
                "influx": {"url": influxd.url, "database": "rv"},
            }
        )
    )
    return config, records


def _process(*args: str) -> subprocess.CompletedProcess[str]:
    """The real ``retrofit-collector`` entry point in its own process."""
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=240, check=False)


@dataclass(frozen=True)
class _Result:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args: str) -> _Result:
    """The same command line in this process (imports paid once: the tests stay short)."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _Result(result.exit_code, result.stdout, result.stderr)


def _check_manifest(folder: Path) -> str:
    """Every file the manifest lists has its SHA-256 and size; nested manifests too."""
    raw = (folder / "manifest.json").read_bytes()
    for item in json.loads(raw)["files"]:
        content = (folder / item["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == item["sha256"]
        assert len(content) == item["size"]
        if item["path"].endswith("/manifest.json"):
            _check_manifest((folder / item["path"]).parent)
    return hashlib.sha256(raw).hexdigest()


def test_enterprise_bundle_from_the_rollups(tmp_path: Path, influxd: InfluxServer) -> None:
    config, records = _setup(tmp_path, influxd)
    result = _process(
        "evidence", ENTERPRISE, "--out", str(tmp_path / "one"), "--config", str(config)
    )
    assert result.returncode == 0, result.stderr
    seal = _check_manifest(tmp_path / "one")
    assert f"manifest.json sha256 {seal}" in result.stdout
    assert f"{ENTERPRISE}: pass after 1 attempt(s)" in result.stdout
    doc = json.loads((tmp_path / "one" / "evidence.json").read_text(encoding="utf-8"))
    assert doc["plan"]["version"] == 1 and doc["status"] == "pass"
    # The reporting period's sums, recomputed from the windows written: every day is usable.
    oee = next(k for k in doc["attempts"][0]["kpis"] if k["kpi"] == "oee")
    assert oee["reporting"]["usable_days"] == 91
    sums: dict[str, float] = defaultdict(float)
    for record in records:
        local_day = (record.window.end - dt.timedelta(milliseconds=1)).astimezone(ZONE).date()
        if dt.date(2026, 6, 1) <= local_day <= dt.date(2026, 8, 30):
            w = record.window
            sums["planned_s"] += w.planned_s
            sums["good_count"] += w.good_count or 0
            sums["total_count"] += w.total_count or 0
            sums["ideal_count_s"] += (w.ideal_cycle_s or 0) * (w.total_count or 0)
    for name, total in sums.items():
        assert oee["reporting"]["sums"][name] == pytest.approx(total, rel=1e-9), name
    # What the collector saw of the agent: seqs 3..4 missing, one forged message.
    assert doc["integrity"]["seq_gaps"] == [
        {"agent": AGENT, "first_seq": 3, "last_seq": 4, "closed": False}
    ]
    assert doc["integrity"]["quarantined"] == {AGENT: {"bad_signature": 1}}
    assert {f["check"] for f in doc["flags"]} == {"seq_gap", "quarantined_messages"}
    assert len(doc["device_days"]) == (56 + 91)
    # Same data, same code, same seed: the same bytes, whatever the directory.
    again = _cli("evidence", ENTERPRISE, "--out", str(tmp_path / "two"), "--config", str(config))
    assert again.returncode == 0, again.stderr
    for name in ("evidence.json", "manifest.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_platform_and_province_bundles(tmp_path: Path, influxd: InfluxServer) -> None:
    config, _ = _setup(tmp_path, influxd)
    out = tmp_path / "plat"
    result = _cli("evidence", "--platform", "plat-a", "--out", str(out), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "plat-a: 1 of 10 enterprises passed (minimum 10: not met); subsidy 150000.00 CNY" in (
        result.stdout
    )
    _check_manifest(out)
    rollup = json.loads((out / "platform.json").read_text(encoding="utf-8"))
    first = rollup["enterprises"][0]
    evidence = (out / ENTERPRISE / "evidence.json").read_bytes()
    assert first["evidence_sha256"] == hashlib.sha256(evidence).hexdigest()
    assert [e["status"] for e in rollup["enterprises"]][1:] == ["insufficient_data"] * 9
    province = tmp_path / "province"
    result = _cli("rollup", "--out", str(province), "--config", str(config))
    assert result.returncode == 0, result.stderr
    seal = _check_manifest(province)
    summary = json.loads((province / "province.json").read_text(encoding="utf-8"))
    assert (summary["enterprises"], summary["passed_count"]) == (10, 1)
    assert (province / "plat-a" / ENTERPRISE / "evidence.json").read_bytes() == evidence
    # Writing into an earlier bundle replaces it; into a directory of other files is refused.
    result = _cli("rollup", "--out", str(province), "--config", str(config))
    assert result.returncode == 0 and f"sha256 {seal}" in result.stdout
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    result = _cli("rollup", "--out", str(tmp_path / "other"), "--config", str(config))
    assert result.returncode == 3 and "not empty" in result.stderr
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_refusals_have_exit_codes_and_no_traceback(tmp_path: Path, influxd: InfluxServer) -> None:
    config, _ = _setup(tmp_path, influxd)
    out = str(tmp_path / "out")
    cases = [
        (("evidence", "nobody", "--out", out, "--config", str(config)), 1, "no loaded plan"),
        (("evidence", "--platform", "plat-z", "--out", out, "--config", str(config)), 1, "plat-z"),
        (("evidence", "--out", out, "--config", str(config)), 2, "give an ENTERPRISE"),
        (("evidence", ENTERPRISE, "--out", out, "--config", str(tmp_path / "none.yaml")), 2, ""),
    ]
    influxd.stop()
    cases.append((("evidence", ENTERPRISE, "--out", out, "--config", str(config)), 4, "InfluxDB"))
    for args, code, text in cases:
        result = _cli(*args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert text in result.stderr and "Traceback" not in result.stderr
