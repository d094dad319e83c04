"""A store and registry filled as ingest and an evidence run fill them, for dashboard checks.

Windows go through the real store path (``InfluxStore.write``, then ``refresh_days`` over their
``affected_days``, as the background rollups do), fleet points through
:func:`write_fleet_snapshot` from a registry loaded with the example plan, and verdicts through
:func:`write_evidence_summary`.

Two enterprises of plat-a, each with two presses (state, counts, ideal cycle) and a main energy
meter, hourly windows over a working day (08:00-16:00 Asia/Shanghai), five baseline days in
February and five reporting days in June 2026; ent-01 improves after go-live.

Day seals (:func:`fill_day_seals`): ent-01-gw1 seals its days with a test key, checked by the
ingest's own check: the second reporting day of press-1 differs (its seal counts more energy),
the first baseline day of press-2 is left unsealed (overdue), every other device-day is equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.dashboards.evidence_feed import write_evidence_summary
from collector.dashboards.feed import ensure_fleet_retention, write_fleet_snapshot
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import InfluxStore, WindowRecord, affected_days
from contract import wire
from tests.collector.dashboards.documents import RUN_AT, enterprise_evidence, platform_rollup
from tests.collector.dashboards.seals import seal_and_check
from tests.collector.store_helpers import quality, window

PLAN = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "plan.yaml"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ENTERPRISES = ("ent-01", "ent-02")
BASELINE_DAYS = [dt.date(2026, 2, 2) + dt.timedelta(days=n) for n in range(5)]
REPORTING_DAYS = [dt.date(2026, 6, 1) + dt.timedelta(days=n) for n in range(5)]
#: ent-01's device-day whose seal differs from the stored row, and the one left unsealed.
DIFFERENT = ("press-1", REPORTING_DAYS[1])
UNSEALED = ("press-2", BASELINE_DAYS[0])
#: The key ent-01-gw1 signs its day seals with here (the registry keeps what ingest verified).
SEAL_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _press_window(end: dt.datetime, device: str, run_share: float, kwh: float) -> wire.KpiWindow:
    run_s = 3600 * run_share
    parts = int(run_s / 24)  # an ideal cycle of 20 s, a real one of 24 s
    rejects = max(1, parts // 40)
    return window(
        end, device, seconds=3600, run_s=run_s, idle_s=(3600 - run_s) / 2,
        down_s=(3600 - run_s) / 2, total_count=parts, good_count=parts - rejects,
        reject_count=rejects, energy_kwh=kwh, ideal_cycle_s=20.0,
        quality=quality(samples=3600),
    )  # fmt: skip


def _meter_window(end: dt.datetime, kwh: float) -> wire.KpiWindow:
    return window(
        end, "meter-main", seconds=3600, run_s=None, idle_s=None, down_s=None, off_s=None,
        planned_stop_s=None, total_count=None, good_count=None, reject_count=None,
        energy_kwh=kwh, ideal_cycle_s=None, quality=quality(samples=3600),
    )  # fmt: skip


def windows_of(enterprise: str) -> Iterator[WindowRecord]:
    """Hourly windows of the enterprise's three devices; seq per three windows (one batch).

    Each press has its own energy meter (energy per unit takes energy and parts from the same
    devices, method §1); the main meter measures energy only.
    """
    improves = enterprise == "ent-01"
    seq = 0
    for day in BASELINE_DAYS + REPORTING_DAYS:
        after = day in REPORTING_DAYS
        run_share = 0.82 if after and improves else 0.70
        for hour in range(9, 17):
            end = dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI).astimezone(dt.UTC)
            seq += 1
            agent = f"{enterprise}-gw1"
            for device in ("press-1", "press-2"):
                yield WindowRecord(
                    "plat-a",
                    enterprise,
                    agent,
                    seq,
                    _press_window(end, device, run_share, kwh=16.5 if after and improves else 18.0),
                )
            kwh = 41.0 if after and improves else 45.0
            yield WindowRecord("plat-a", enterprise, agent, seq, _meter_window(end, kwh))


def fill_registry(registry: Registry, now: dt.datetime) -> None:
    """The example plan, one agent online, one offline, a seq gap and a quarantined message."""
    registry.load_plan(load_plan(PLAN), by="test")
    registry.update_status(
        "ent-01-gw1", last_seen=now - dt.timedelta(seconds=20), version="0.1.0",
        config_digest=wire.config_digest(b"a"), outbox_depth=3, state="online", now=now,
    )  # fmt: skip
    registry.update_status(
        "ent-02-gw1", last_seen=now - dt.timedelta(hours=2), version="0.1.0",
        config_digest=wire.config_digest(b"b"), outbox_depth=140, state="offline", now=now,
    )  # fmt: skip
    items = [("ent-01-gw1", seq, f"{seq:064x}") for seq in (1, 2, 5)]
    registry.record_seqs(items, received_at=now - dt.timedelta(seconds=30))
    registry.quarantine_add(
        b'{"v":1}', "rv/v1/plat-a/ent-01/ent-01-gw1/windows", now - dt.timedelta(minutes=5),
        "bad_signature", "signature does not verify with the registered key",
    )  # fmt: skip


async def fill_windows(store: InfluxStore) -> None:
    """Windows and their daily rollups, through the real store path."""
    await store.ensure_database()
    await store.ensure_retention()
    zones = dict.fromkeys(ENTERPRISES, "Asia/Shanghai")
    for enterprise in ENTERPRISES:
        records = list(windows_of(enterprise))
        await store.write(records)
        await store.refresh_days(affected_days(records, zones))


async def fill_day_seals(
    store: InfluxStore, registry: Registry, now: dt.datetime, *, honest: bool = False
) -> None:
    """ent-01's day seals and the ingest's check of every device-day (after fill_windows); one
    device-day differs from its seal and one is unsealed unless ``honest``."""
    await seal_and_check(
        store, registry, list(windows_of("ent-01")), {"ent-01-gw1": SEAL_KEY},
        tz="Asia/Shanghai", different=set() if honest else {DIFFERENT},
        unsealed=set() if honest else {UNSEALED}, now=now,
    )  # fmt: skip


async def fill_feed(store: InfluxStore, registry: Registry, now: dt.datetime) -> None:
    """Two fleet snapshots a minute apart and one evidence run."""
    await ensure_fleet_retention(store)
    for minutes_ago in (1, 0):
        await write_fleet_snapshot(registry, store, now=now - dt.timedelta(minutes=minutes_ago))
    await write_evidence_summary(
        store, enterprise_evidence("ent-01", passed=True, flagged=True), at=RUN_AT
    )
    await write_evidence_summary(
        store, enterprise_evidence("ent-02", passed=False, flagged=False), at=RUN_AT
    )
    await write_evidence_summary(store, platform_rollup({"ent-01": "pass", "ent-02": "fail"}))
