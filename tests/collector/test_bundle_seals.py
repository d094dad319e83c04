"""The evidence gather's seal check, substitution and proof files.

First the pure check (:func:`collector.bundle.check_rows`) on rows made from seal parts; then
the whole path on a real influxd and registry: windows written through the store and rolled
up, seals signed over the same windows as an agent would (``tests.collector.seal_helpers``),
the gather substituting the sealed figures, a ``kpi_daily`` field edited by line protocol and
caught, and the bundle written twice, byte for byte, with its signature and proof files.
The module's tests share one loaded stack and run in file order: the edit comes last.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from collector.bundle import (
    BundleError,
    EnterpriseBundle,
    build_enterprise_bundle,
    check_rows,
    write_enterprise_bundle,
)
from collector.cli import app
from collector.evidence.document import EnterpriseEvidence
from collector.plan import load_plan
from collector.proof import (
    AGENT_KEYS_NAME,
    DAY_CHECKS_NAME,
    DAY_SEALS_NAME,
    SIGNATURE_NAME,
    fingerprint,
    read_agent_keys,
    read_day_checks,
    read_day_seals,
    verify_manifest_signature,
)
from collector.registry import DayCheck, DaySealEntry, Registry, SealDifference
from collector.store import DailyRow, WindowRecord, affected_days
from contract import daysums, wire
from contract.keys import load_private_key
from stack import InfluxServer
from tests.collector.seal_helpers import SealChain
from tests.collector.store_helpers import open_store, window

pytestmark = pytest.mark.timeout(300)

PLAN = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT, DEVICE = "plat-a", "plat-a-e01", "plat-a-e01-gw", "press-1"
AGENT_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39)))
BUNDLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(40, 72)))
ZONE = dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai has no daylight saving
AT = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
BEFORE, BASE1, BASE2 = dt.date(2026, 1, 31), dt.date(2026, 2, 2), dt.date(2026, 2, 3)
REPORT1, REPORT2 = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
HOUR = 3600


# --- the pure check --------------------------------------------------------------------------


def _day_windows(day: dt.date, first_seq: int, hours: range = range(24)) -> list[WindowRecord]:
    """Hourly windows of press-1 over a local day: 8 working hours, the rest idle."""
    records = []
    for n, hour in enumerate(hours):
        end = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE) + dt.timedelta(hours=1)
        working = 8 <= hour < 16
        win = window(
            end.astimezone(dt.UTC), device=DEVICE, seconds=HOUR,
            scheduled_s=float(HOUR if working else 0), planned_s=float(HOUR if working else 0),
            run_s=HOUR * (0.8 + hour / 1000 if working else 0.0), idle_s=0.0,
            down_s=HOUR * (0.2 - hour / 1000 if working else 0.0),
            off_s=0.0 if working else float(HOUR),
            total_count=137 + hour if working else 0, good_count=131 + hour if working else 0,
            reject_count=6 if working else 0, energy_kwh=0.1 + 3.3 * working + hour / 7,
            ideal_cycle_s=19.7,
        )  # fmt: skip
        records.append(WindowRecord(PLATFORM, ENTERPRISE, AGENT, first_seq + n, win))
    return records


def _pairs(records: list[WindowRecord]) -> list[tuple[int, wire.KpiWindow]]:
    return [(r.seq, r.window) for r in records if isinstance(r.window, wire.KpiWindow)]


def _entry(raw: bytes) -> DaySealEntry:
    seal = wire.decode_day_seal(raw)
    return DaySealEntry(
        seal_sha256=wire.day_seal_sha256(raw), agent_id=seal.agent, platform=seal.platform,
        enterprise=seal.enterprise, device=seal.device, day=seal.day, tz=seal.tz,
        version=seal.version, chain_index=seal.index, prev_sha256=seal.prev,
        supersedes_sha256=seal.supersedes, seq=seal.seq, received_at=AT, raw=raw,
    )  # fmt: skip


def _row(part: wire.DaySealPart, day: dt.date, **changes: Any) -> DailyRow:
    figures = {**daysums.row_figures(part), **changes}
    return DailyRow(
        platform=PLATFORM, enterprise=ENTERPRISE, agent=AGENT, device=DEVICE,
        provenance=part.provenance, day=day, tz="Asia/Shanghai", **figures,
    )  # fmt: skip


def _chain() -> SealChain:
    return SealChain(AGENT_KEY, PLATFORM, ENTERPRISE, AGENT, DEVICE)


def test_equal_rows_carry_the_sealed_figures_bit_for_bit() -> None:
    raw = _chain().seal(BASE1, _pairs(_day_windows(BASE1, 1)), seq=30)
    entry = _entry(raw)
    part = entry.message().parts[0]
    # InfluxDB adds in another order: a float sum one ulp away is still the sealed day.
    nudged = math.nextafter(part.sums.run_s or 0.0, math.inf)
    stored = _row(part, BASE1, run_s=nudged)
    unsealed = dataclasses.replace(_row(part, BASE1), day=BASE2)
    checked = check_rows([stored, unsealed], [entry], [], checked_at=AT)
    assert [(c.day, c.outcome, c.checked_by) for c in checked.checks] == [
        (BASE1, "sealed_equal", "evidence"), (BASE2, "unsealed", "evidence")
    ]  # fmt: skip
    substituted = checked.rows[0]
    assert substituted.run_s == part.sums.run_s and substituted.run_s != nudged
    sealed = daysums.row_figures(part)
    assert {name: getattr(substituted, name) for name in daysums.FIGURES} == {
        **sealed,
        "measured_windows": sealed["measured_windows"],
        "overflowed": (),
    }
    assert checked.rows[1] is unsealed  # unsealed rows keep the stored figures
    assert [(o.seal_version, o.seal_sha256) for o in checked.outcomes] == [
        (1, entry.seal_sha256), (None, None)
    ]  # fmt: skip


def test_a_different_row_keeps_its_figures_and_names_the_field() -> None:
    entry = _entry(_chain().seal(BASE1, _pairs(_day_windows(BASE1, 1)), seq=30))
    part = entry.message().parts[0]
    edited = _row(part, BASE1, run_s=(part.sums.run_s or 0.0) + 600.0, windows=23)
    checked = check_rows([edited], [entry], [], checked_at=AT)
    (check,) = checked.checks
    assert check.outcome == "sealed_different" and not check.root_checked
    assert [(d.field, d.stored, d.sealed) for d in check.differences] == [
        ("windows", 23, 24), ("run_s", edited.run_s, part.sums.run_s)
    ]  # fmt: skip
    assert checked.rows == (edited,)


def test_a_sums_only_check_never_clears_a_root_difference_found_by_the_refresh() -> None:
    entry = _entry(_chain().seal(BASE1, _pairs(_day_windows(BASE1, 1)), seq=30))
    part = entry.message().parts[0]
    stored = _row(part, BASE1)
    held = DayCheck(
        agent_id=AGENT, device=DEVICE, provenance="measured", day=BASE1, platform=PLATFORM,
        enterprise=ENTERPRISE, outcome="sealed_different", seal_sha256=entry.seal_sha256,
        differences=(SealDifference("merkle_root", "ab" * 32, part.merkle_root),),
        root_checked=True, checked_at=AT, checked_by="refresh",
    )  # fmt: skip
    checked = check_rows([stored], [entry], [held], checked_at=AT)
    (check,) = checked.checks
    assert check.outcome == "sealed_different" and check.root_checked
    assert [d.field for d in check.differences] == ["merkle_root"]
    assert checked.outcomes[0].outcome == "sealed_different"
    assert checked.rows == (stored,)  # not substituted: its windows are not the sealed ones
    # Held against an older seal: the new check stands.
    older = dataclasses.replace(held, seal_sha256="cd" * 32)
    assert check_rows([stored], [entry], [older], checked_at=AT).checks[0].outcome == (
        "sealed_equal"
    )


def test_a_sealed_part_without_its_row_is_different_and_a_bad_seal_never_equal() -> None:
    entry = _entry(_chain().seal(BASE1, _pairs(_day_windows(BASE1, 1)), seq=30))
    checked = check_rows([], [entry], [], checked_at=AT)
    assert [(c.outcome, c.differences) for c in checked.checks] == [
        ("sealed_different", (SealDifference("windows", 0, 24),))
    ]
    assert checked.rows == ()
    broken = dataclasses.replace(entry, raw=entry.raw.replace(b'"kind":"day_seal"', b'"kind":"x"'))
    row = _row(entry.message().parts[0], BASE1)
    (check,) = check_rows([row], [broken], [], checked_at=AT).checks
    assert check.outcome == "sealed_different" and check.differences[0].field == "seal"


# --- the whole path on a real influxd --------------------------------------------------------


@dataclass(frozen=True)
class _Stack:
    influxd: InfluxServer
    registry: Path
    seals: dict[str, bytes]  # by name: before, base1, base2_v1, base2_v2, report1


def _plan(path: Path) -> Path:
    # The minimal plan, with plat-a-e01's agent holding this test's key: its seals are then
    # anchored in the plan, as a reviewer's verifier requires.
    text = PLAN.read_text(encoding="utf-8")
    plan = yaml.safe_load(text)
    old = plan["platforms"][0]["enterprises"][0]["agents"][0]["public_key"]
    path.write_text(text.replace(old, wire.public_key_text(AGENT_KEY.public_key())), "utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Stack]:
    workdir = tmp_path_factory.mktemp("seals")
    influxd = InfluxServer(workdir / "influxd")
    try:
        influxd.start()
        yield _load(workdir, influxd)
    finally:
        influxd.stop()


def _load(workdir: Path, influxd: InfluxServer) -> _Stack:
    days = {
        BEFORE: _day_windows(BEFORE, 1),
        BASE1: _day_windows(BASE1, 101),
        BASE2: _day_windows(BASE2, 201),
        REPORT1: _day_windows(REPORT1, 301),
        REPORT2: _day_windows(REPORT2, 401),
    }
    records = [record for day in days.values() for record in day]
    chain = _chain()
    seals = {
        "before": chain.seal(BEFORE, _pairs(days[BEFORE]), seq=1000),
        "base1": chain.seal(BASE1, _pairs(days[BASE1]), seq=1001),
        # Day 2 first sealed short (a late window came after), then again: version 2 counts.
        "base2_v1": chain.seal(BASE2, _pairs(days[BASE2][:20]), seq=1002),
        "base2_v2": chain.seal(BASE2, _pairs(days[BASE2]), seq=1003),
        "report1": chain.seal(REPORT1, _pairs(days[REPORT1]), seq=1004),
    }  # REPORT2 stays unsealed
    path = workdir / "registry.sqlite"
    with Registry(path) as registry:
        registry.load_plan(load_plan(_plan(workdir / "plan.yaml")), by="test")
        for raw in seals.values():
            registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=AT)

    async def store_windows() -> None:
        async with open_store(influxd) as store:
            await store.write(records)
            await store.refresh_days(affected_days(records, {ENTERPRISE: "Asia/Shanghai"}))

    asyncio.run(store_windows())
    return _Stack(influxd, path, seals)


def _build(stack: _Stack, enterprise: str = ENTERPRISE) -> EnterpriseBundle:
    async def build() -> EnterpriseBundle:
        async with open_store(stack.influxd) as store:
            with Registry(stack.registry) as registry:
                return await build_enterprise_bundle(registry, store, enterprise)

    return asyncio.run(build())


def _device_day(doc: EnterpriseEvidence, day: dt.date) -> dict[str, Any]:
    (found,) = [d for d in doc.device_days if d.day == day and d.device == DEVICE]
    return found.model_dump()


def _sealed_part(raw: bytes) -> wire.DaySealPart:
    return wire.decode_day_seal(raw).parts[0]


def test_each_sealed_device_day_equals_its_seal_and_the_bundle_carries_the_proof(
    tmp_path: Path, stack: _Stack
) -> None:
    built = _build(stack)
    doc = built.document
    seals = doc.seals
    assert seals is not None
    assert (seals.sealed_equal, seals.sealed_different, seals.unsealed) == (3, 0, 1)
    outcomes = {(d.day, d.outcome, d.version) for d in seals.device_days}
    assert outcomes == {
        (BASE1, "sealed_equal", 1), (BASE2, "sealed_equal", 2), (REPORT1, "sealed_equal", 1),
        (REPORT2, "unsealed", None),
    }  # fmt: skip
    # Substitution: every figure of a sealed device-day is its seal part's, compared with ==.
    for day, name in ((BASE1, "base1"), (BASE2, "base2_v2"), (REPORT1, "report1")):
        sealed = daysums.row_figures(_sealed_part(stack.seals[name]))
        shown = _device_day(doc, day)
        compared = {key: sealed[key] for key in shown if key in sealed}
        assert len(compared) > 25
        assert {key: shown[key] for key in compared} == compared, day
    checks = [c for c in doc.flags if c.check in ("device_days_unsealed", "day_seal_differs")]
    assert [(f.check, f.severity, f.days) for f in checks] == [
        ("device_days_unsealed", "warning", [REPORT2])
    ]
    # The registry records the gather's outcomes.
    with Registry(stack.registry) as registry:
        held = registry.day_checks(ENTERPRISE, BASE1, REPORT2)
    assert {(c.day, c.outcome, c.checked_by) for c in held} >= {
        (BASE1, "sealed_equal", "evidence"), (REPORT2, "unsealed", "evidence")
    }  # fmt: skip
    # Written twice: the same bytes, signature and proof files included.
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        write_enterprise_bundle(doc, folder, reports="none", signer=BUNDLE_KEY, proofs=built.proofs)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(
        [AGENT_KEYS_NAME, DAY_CHECKS_NAME, DAY_SEALS_NAME, "evidence.json", "manifest.json",
         SIGNATURE_NAME]
    )  # fmt: skip
    assert {n: (first / n).read_bytes() for n in names} == {
        n: (second / n).read_bytes() for n in names
    }
    listed = {item["path"] for item in json.loads((first / "manifest.json").read_bytes())["files"]}
    assert listed == {AGENT_KEYS_NAME, DAY_CHECKS_NAME, DAY_SEALS_NAME, "evidence.json"}
    verify_manifest_signature(
        (first / SIGNATURE_NAME).read_bytes(), (first / "manifest.json").read_bytes()
    )
    # The seals exactly as received: the chain from the seal before the baseline, every version.
    in_file = read_day_seals((first / DAY_SEALS_NAME).read_bytes())
    assert [s.raw for s in in_file] == list(stack.seals.values())
    for seal in in_file:
        wire.verify(seal.seal, AGENT_KEY.public_key())
    keys = read_agent_keys((first / AGENT_KEYS_NAME).read_bytes())
    assert [(a.agent, a.public_key) for a in keys.agents] == [
        (AGENT, wire.public_key_text(AGENT_KEY.public_key()))
    ]
    day_checks = read_day_checks((first / DAY_CHECKS_NAME).read_bytes())
    assert [(c.day, c.outcome) for c in day_checks.checks] == [
        (BASE1, "sealed_equal"), (BASE2, "sealed_equal"), (REPORT1, "sealed_equal"),
        (REPORT2, "unsealed"),
    ]  # fmt: skip


def test_an_enterprise_without_seals_still_gets_its_proof_files(
    tmp_path: Path, stack: _Stack
) -> None:
    built = _build(stack, "plat-a-e02")
    assert built.document.seals is not None and built.document.seals.device_days == []
    write_enterprise_bundle(built.document, tmp_path, reports="none", proofs=built.proofs)
    assert (tmp_path / DAY_SEALS_NAME).read_bytes() == b""
    assert read_day_checks((tmp_path / DAY_CHECKS_NAME).read_bytes()).checks == []
    assert [a.agent for a in read_agent_keys((tmp_path / AGENT_KEYS_NAME).read_bytes()).agents] == [
        "plat-a-e02-gw"
    ]
    # Another enterprise's proof files never go into this bundle; nothing is written.
    other = _build(stack).proofs
    with pytest.raises(BundleError, match="proof files of enterprise plat-a-e01 given for"):
        write_enterprise_bundle(built.document, tmp_path / "mixed", reports="none", proofs=other)
    assert not (tmp_path / "mixed").exists()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_command_prints_the_seal_line_and_audits_the_key_use(
    tmp_path: Path, stack: _Stack
) -> None:
    key_path = tmp_path / "bundle.key"
    assert _cli("bundle-key", "generate", str(key_path))[0] == 0
    signer = load_private_key(key_path, create_with="-")
    config = tmp_path / "collector.yaml"
    settings = {
        "registry": str(stack.registry),
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": stack.influxd.url, "database": "rv"},
        "bundle": {"signing_key_path": str(key_path)},
    }
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "bundle"
    code, stdout, stderr = _cli(
        "evidence", ENTERPRISE, "--out", str(out), "--config", str(config), "--reports", "html"
    )
    assert code == 0, stderr
    signed_by = fingerprint(signer.public_key())
    line = f"{ENTERPRISE}: signed by {signed_by} · 3 device-days sealed, 0 different, 1 unsealed"
    assert line in " ".join(stdout.split())
    html = {lang: (out / f"report.{lang}.html").read_text("utf-8") for lang in ("en", "zh-CN")}
    assert "3 device-days sealed, 0 different, 1 unsealed" in html["en"]
    assert "已封存设备日 3 个，其中不一致 0 个，未封存 1 个" in html["zh-CN"]
    manifest = hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    with Registry(stack.registry) as registry:
        used = [e for e in registry.audit(subject=f"{PLATFORM}/{ENTERPRISE}")
                if e.action == "bundle_key.use"]  # fmt: skip
    assert [(e.actor, json.loads(e.detail)) for e in used] == [
        ("cli", {"fingerprint": signed_by, "kind": "enterprise", "manifest_sha256": manifest})
    ]


def test_a_kpi_daily_field_edited_in_influxdb_is_named_and_flagged(stack: _Stack) -> None:
    sealed_run_s = _sealed_part(stack.seals["report1"]).sums.run_s
    assert sealed_run_s is not None
    edited = sealed_run_s + 1800.0
    midnight = dt.datetime.combine(REPORT1, dt.time(0), tzinfo=ZONE)
    line = (
        f"kpi_daily,agent={AGENT},device={DEVICE},enterprise={ENTERPRISE},platform={PLATFORM},"
        f"provenance=measured run_s={edited!r} {int(midnight.timestamp() * 1000)}"
    )

    async def edit() -> None:
        async with open_store(stack.influxd) as store:
            await store.write_lines([line], retention_policy="rollup")

    asyncio.run(edit())
    doc = _build(stack).document
    assert doc.seals is not None
    (different,) = [d for d in doc.seals.device_days if d.outcome == "sealed_different"]
    assert (different.day, different.device) == (REPORT1, DEVICE)
    assert [(d.field, d.stored, d.sealed) for d in different.differences] == [
        ("run_s", edited, sealed_run_s)
    ]
    # The device-day keeps the stored figure (the verifier names it); nothing is dropped.
    assert _device_day(doc, REPORT1)["run_s"] == edited
    assert len(doc.device_days) == 4
    (flag,) = [f for f in doc.flags if f.check == "day_seal_differs"]
    assert (flag.severity, flag.device, flag.days) == ("serious", DEVICE, [REPORT1])
    assert flag.figures == {"agent": AGENT, "device_days": 1, "fields": "run_s"}
    with Registry(stack.registry) as registry:
        held = registry.day_checks(ENTERPRISE, REPORT1, REPORT1)
    assert [(c.outcome, c.checked_by, [d.field for d in c.differences]) for c in held] == [
        ("sealed_different", "evidence", ["run_s"])
    ]
