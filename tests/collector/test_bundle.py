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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from collector.attachments import checked_upload
from collector.bundle import Manifest, ManifestFile
from collector.cli import app
from collector.config import load_collector_config
from collector.evidence.document import canonical_json
from collector.plan import load_plan
from collector.proof import fingerprint, verify_manifest_signature
from collector.registry import Registry
from collector.store import WindowRecord, affected_days
from contract import wire
from contract.keys import load_private_key
from stack import InfluxServer
from tests.collector.attachments.samples import pdf_bytes
from tests.collector.store_helpers import open_store, quality, window
from tests.conftest import InfluxFactory

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
    records: list[WindowRecord] = []
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


@dataclass(frozen=True)
class _Stack:
    """One influxd for the module, loaded once: a registry with the plan and integrity
    findings, windows written through the store and their daily rollups."""

    config: Path
    records: list[WindowRecord]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Stack]:
    # Module scope: the tests only read what is loaded here, and loading (a server, 3,528
    # windows, their rollups) is most of what a test would otherwise spend.
    workdir = tmp_path_factory.mktemp("bundle")
    influxd = InfluxServer(workdir / "influxd")
    try:
        influxd.start()
        yield _load(workdir, influxd)
    finally:
        influxd.stop()


def _load(tmp_path: Path, influxd: InfluxServer) -> _Stack:
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
            await store.refresh_days(affected_days(records, {ENTERPRISE: "Asia/Shanghai"}))

    asyncio.run(store_windows())
    config = tmp_path / "collector.yaml"
    _write_config(config, registry_path, influxd.url)
    return _Stack(config, records)


def _write_config(path: Path, registry: Path, influx_url: str) -> None:
    settings = {
        "registry": str(registry),
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": influx_url, "database": "rv"},
    }
    path.write_text(yaml.safe_dump(settings))


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


REPORTS = {"report.zh-CN.html", "report.en.html", "report.zh-CN.pdf", "report.en.pdf"}
#: An enterprise bundle's proof files: written even when no agent sealed a day (then empty).
PROOFS = {"day-seals.jsonl", "agent-keys.json", "day-checks.json"}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _manifest(folder: Path) -> dict[str, dict[str, object]]:
    files = json.loads((folder / "manifest.json").read_bytes())["files"]
    return {item["path"]: item for item in files}


def test_enterprise_bundle_from_the_rollups(tmp_path: Path, stack: _Stack) -> None:
    config = str(stack.config)
    # The real entry point in its own process, with every report (the only PDFs this module
    # renders: tests/collector/report/test_render.py looks at them and their bytes).
    result = _process("evidence", ENTERPRISE, "--out", str(tmp_path / "one"), "--config", config)
    assert result.returncode == 0, result.stderr
    seal = _check_manifest(tmp_path / "one")
    assert f"manifest.json sha256 {seal}" in result.stdout
    assert f"{ENTERPRISE}: pass after 1 attempt(s)" in result.stdout
    assert set(_manifest(tmp_path / "one")) == {"evidence.json", *REPORTS, *PROOFS}
    assert (tmp_path / "one" / "day-seals.jsonl").read_bytes() == b""  # this agent seals nothing
    for lang in ("zh-CN", "en"):
        assert (tmp_path / "one" / f"report.{lang}.pdf").read_bytes().startswith(b"%PDF-")
    # The reports show the engine's three intervals (method §3), the third one included.
    assert "Effective days (small-sample correction)" in _text(tmp_path / "one" / "report.en.html")
    assert "等效独立天数区间（小样本校正）" in _text(tmp_path / "one" / "report.zh-CN.html")
    doc = json.loads((tmp_path / "one" / "evidence.json").read_text(encoding="utf-8"))
    assert doc["plan"]["version"] == 1 and doc["status"] == "pass"
    # The reporting period's sums, recomputed from the windows written: every day is usable.
    oee = next(k for k in doc["attempts"][0]["kpis"] if k["kpi"] == "oee")
    assert oee["reporting"]["usable_days"] == 91
    sums: dict[str, float] = defaultdict(float)
    for record in stack.records:
        local_day = (record.window_end - dt.timedelta(milliseconds=1)).astimezone(ZONE).date()
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
    assert {f["check"] for f in doc["flags"]} == {
        "seq_gap", "quarantined_messages", "device_days_unsealed"
    }  # fmt: skip
    assert len(doc["device_days"]) == (56 + 91)
    assert (doc["seals"]["sealed_equal"], doc["seals"]["unsealed"]) == (0, 56 + 91)
    # Same data, same code, same seed, another process and directory: the same bytes. The
    # second run leaves the PDFs out (seconds each; their bytes across processes are
    # test_render's), so it compares the JSON, the HTML and their manifest lines.
    again = _cli(
        "evidence", ENTERPRISE, "--out", str(tmp_path / "two"), "--config", config,
        "--reports", "html",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    for name in ("evidence.json", "report.zh-CN.html", "report.en.html", *PROOFS):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    first, second = _manifest(tmp_path / "one"), _manifest(tmp_path / "two")
    assert second == {path: item for path, item in first.items() if not path.endswith(".pdf")}
    # The manifest is the canonical JSON of its lines: the same files give the same bytes.
    listed = Manifest(kind="enterprise", files=[ManifestFile(**item) for item in first.values()])
    assert canonical_json(listed) == (tmp_path / "one" / "manifest.json").read_bytes()


def test_platform_and_province_bundles(tmp_path: Path, stack: _Stack) -> None:
    config = str(stack.config)
    out = tmp_path / "plat"
    result = _cli(
        "evidence", "--platform", "plat-a", "--out", str(out), "--config", config,
        "--reports", "html",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "plat-a: 1 of 10 enterprises passed (minimum 10: not met); subsidy 150000.00 CNY" in (
        result.stdout
    )
    _check_manifest(out)
    html = {"report.zh-CN.html", "report.en.html"}
    assert set(_manifest(out)) == {"platform.json", *html} | {
        f"plat-a-e{n:02d}/manifest.json" for n in range(1, 11)
    }
    assert set(_manifest(out / ENTERPRISE)) == {"evidence.json", *html, *PROOFS}
    rollup = json.loads((out / "platform.json").read_text(encoding="utf-8"))
    first = rollup["enterprises"][0]
    evidence = (out / ENTERPRISE / "evidence.json").read_bytes()
    assert first["evidence_sha256"] == hashlib.sha256(evidence).hexdigest()
    assert [e["status"] for e in rollup["enterprises"]][1:] == ["insufficient_data"] * 9
    province = tmp_path / "province"
    result = _cli("rollup", "--out", str(province), "--config", config, "--reports", "none")
    assert result.returncode == 0, result.stderr
    seal = _check_manifest(province)
    assert set(_manifest(province)) == {"province.json", "plat-a/manifest.json"}
    summary = json.loads((province / "province.json").read_text(encoding="utf-8"))
    assert (summary["enterprises"], summary["passed_count"]) == (10, 1)
    assert (province / "plat-a" / ENTERPRISE / "evidence.json").read_bytes() == evidence
    # Writing into an earlier bundle replaces it, files the new one lacks included: a bundle
    # with reports, then one without gives the same seal as the first and no report left.
    result = _cli("rollup", "--out", str(province), "--config", config, "--reports", "html")
    assert result.returncode == 0 and f"sha256 {seal}" not in result.stdout
    assert (province / "plat-a" / ENTERPRISE / "report.en.html").exists()
    result = _cli("rollup", "--out", str(province), "--config", config, "--reports", "none")
    assert result.returncode == 0 and f"sha256 {seal}" in result.stdout
    assert not list(province.rglob("report.*"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    result = _cli("rollup", "--out", str(tmp_path / "other"), "--config", config)
    assert result.returncode == 3 and "not empty" in result.stderr
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_pdfs_only_for_the_enterprises_named(tmp_path: Path, stack: _Stack) -> None:
    # A PDF takes most of a second, HTML a fraction: --pdf-for renders them where they are wanted.
    config, province = str(stack.config), tmp_path / "province"
    result = _cli("rollup", "--out", str(province), "--config", config, "--pdf-for", ENTERPRISE)
    assert result.returncode == 0, result.stderr
    _check_manifest(province)
    pdfs = {str(path.relative_to(province)) for path in province.rglob("*.pdf")}
    assert pdfs == {
        f"{folder}report.{language}.pdf"
        for folder in ("", "plat-a/", f"plat-a/{ENTERPRISE}/")
        for language in ("en", "zh-CN")
    }
    assert (province / "plat-a" / "plat-a-e02" / "report.en.html").exists()
    result = _cli("rollup", "--out", str(province), "--config", config, "--pdf-for", "plat-a-e99")
    assert result.returncode == 3 and "plat-a-e99" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("evidence", ENTERPRISE, "--out", str(tmp_path / "one"), "--config", config,
                  "--pdf-for", ENTERPRISE)  # fmt: skip
    assert result.returncode == 2 and "--pdf-for" in result.stderr


def test_refusals_have_exit_codes_and_no_traceback(
    tmp_path: Path, stack: _Stack, influxd_factory: InfluxFactory
) -> None:
    config, out = str(stack.config), str(tmp_path / "out")
    # The same registry with an InfluxDB that is not running (the module's server stays up).
    down = tmp_path / "down.yaml"
    settings = yaml.safe_load(stack.config.read_text())
    _write_config(down, Path(settings["registry"]), influxd_factory(start=False).url)
    cases = [
        (("evidence", "nobody", "--out", out, "--config", config), 1, "no loaded plan"),
        (("evidence", "--platform", "plat-z", "--out", out, "--config", config), 1, "plat-z"),
        (("evidence", "--out", out, "--config", config), 2, "give an ENTERPRISE"),
        (("evidence", ENTERPRISE, "--out", out, "--config", str(tmp_path / "none.yaml")), 2, ""),
        (("evidence", ENTERPRISE, "--out", out, "--config", str(down)), 4, "InfluxDB"),
    ]
    for args, code, text in cases:
        result = _cli(*args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert text in result.stderr and "Traceback" not in result.stderr


def test_signed_bundles_at_every_level_and_the_key_checked_first(
    tmp_path: Path, stack: _Stack
) -> None:
    key_path = tmp_path / "secrets" / "bundle.key"
    assert _cli("bundle-key", "generate", str(key_path)).returncode == 0
    public = load_private_key(key_path, create_with="-").public_key()
    printed = f"bundle-signature.json signed by {fingerprint(public)}"
    config = tmp_path / "collector.yaml"
    settings = yaml.safe_load(stack.config.read_text())
    config.write_text(yaml.safe_dump({**settings, "bundle": {"signing_key_path": str(key_path)}}))
    province = tmp_path / "province"
    result = _cli("rollup", "--out", str(province), "--config", str(config), "--reports", "none")
    assert result.returncode == 0, result.stderr
    assert printed in result.stdout
    enterprises = sorted((province / "plat-a").glob("plat-a-e*"))
    expected = [
        (province, "province", None),
        (province / "plat-a", "platform", None),
        *((folder, "enterprise", folder.name) for folder in enterprises),
    ]
    assert len(expected) == 12
    digest = json.loads((province / "province.json").read_bytes())["plan"]["digest"]
    for folder, kind, enterprise in expected:
        signature = verify_manifest_signature(
            (folder / "bundle-signature.json").read_bytes(), (folder / "manifest.json").read_bytes()
        )
        assert (signature.kind, signature.enterprise, signature.plan_digest) == (
            kind,
            enterprise,
            digest,
        )
        assert "bundle-signature.json" not in _manifest(folder)
    before = _tree(province)
    # The same evidence gives the same bytes, signatures included.
    result = _cli("rollup", "--out", str(province), "--config", str(config), "--reports", "none")
    assert result.returncode == 0, result.stderr
    assert _tree(province) == before
    # Without a key the bundle is unsigned, and no earlier signature is left behind.
    unsigned = str(stack.config)
    result = _cli("rollup", "--out", str(province), "--config", unsigned, "--reports", "none")
    assert result.returncode == 0, result.stderr
    assert "unsigned: no bundle.signing_key_path" in result.stdout
    assert not list(province.rglob("bundle-signature.json"))
    # A key others can read stops the command before any work, naming the file and the fix.
    key_path.chmod(0o644)
    out = tmp_path / "one"
    refused = _process("evidence", ENTERPRISE, "--out", str(out), "--config", str(config))
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert f"{config} bundle.signing_key_path: {key_path} is readable by group or others" in message
    assert f"run: chmod 600 {key_path}" in message and "Traceback" not in refused.stderr
    assert not out.exists()


def _tree(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_the_manifest_lists_the_enterprise_file_and_the_evidence_its_invoiced_total(
    tmp_path: Path, stack: _Stack
) -> None:
    """Last in this module: it adds documents to the shared registry. The subsidy is on the
    lower of the plan's cost and the invoices; a verifier recomputes it from the bundle."""
    config = str(stack.config)
    contract, invoice = pdf_bytes("contract"), pdf_bytes("invoice 1")
    with Registry(load_collector_config(stack.config).registry) as registry:
        for content, kind, amount in (
            (contract, "contract", None),
            (invoice, "invoice", "400000.50"),
        ):
            upload = checked_upload(
                content, kind=kind, name=f"{kind}.pdf", amount=amount, max_bytes=1 << 20
            )
            registry.attach(ENTERPRISE, upload, by="eng-a")
    result = _cli(
        "evidence",
        ENTERPRISE,
        "--out",
        str(tmp_path / "b"),
        "--config",
        config,
        "--reports",
        "none",
    )
    assert result.returncode == 0, result.stderr
    _check_manifest(tmp_path / "b")
    listed = json.loads((tmp_path / "b" / "manifest.json").read_bytes())["documents"]
    assert [(d["kind"], d["name"], d["amount_fen"], d["attached_by"]) for d in listed] == [
        ("contract", "contract.pdf", None, "eng-a"),
        ("invoice", "invoice.pdf", 40_000_050, "eng-a"),
    ]
    assert [(d["sha256"], d["size"]) for d in listed] == [
        (hashlib.sha256(contract).hexdigest(), len(contract)),
        (hashlib.sha256(invoice).hexdigest(), len(invoice)),
    ]
    doc = json.loads((tmp_path / "b" / "evidence.json").read_text(encoding="utf-8"))
    assert [d["sha256"] for d in doc["documents"]] == [d["sha256"] for d in listed]
    subsidy = doc["subsidy"]
    invoiced = sum(d["amount_fen"] for d in listed if d["kind"] == "invoice")
    assert subsidy["invoiced_fen"] == invoiced and subsidy["plan_cost_fen"] == 50_000_000
    assert (
        subsidy["cost_fen"] == min(invoiced, subsidy["plan_cost_fen"]) and subsidy["costs_differ"]
    )
    assert subsidy["subsidy_fen"] == min(subsidy["cost_fen"] * 30 // 100, 30_000_000) == 12_000_015
