"""A registry, evidence folder and InfluxDB with two provinces, three platforms and users of
every role, for the web app's tests (a real registry on SQLite or PostgreSQL, real influxd,
real bundles on disk).

- 330200 (宁波): plat-a (e01..e10), plat-b (b01..b10)
- 440300 (深圳): plat-c (c01..c10)

Users: ``admin``; ``eng-a`` / ``eng-b`` (platform); ``rev-nb`` (reviewer of 330200);
``rev-cn`` (national reviewer); ``obs-nb`` (observer of 330200). ``World.tokens`` holds each
one's token text. Bundles: plat-a e01 pass, e02 fail, e03 insufficient data; plat-b b01 pass;
plat-c c01 pass.

Day seals (with influxd): e01-gw seals e01's press-1 days with its registered key
(:func:`agent_key`), checked by the ingest's own check: 03-02, 03-03, 06-02 and 06-04 equal,
06-03 different (its seal counts more energy than was stored), 03-04 left unsealed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.accounts import write_totp_key
from collector.attachments import checked_upload
from collector.bundle import BundleInfo, BundleStore
from collector.plan import parse_plan
from collector.registry import Registry
from collector.store import DayKey, InfluxStore, WindowRecord
from collector.web.directory import DirectoryCache
from collector.web.settings import WebSettings
from contract import wire
from stack import InfluxServer
from tests.collector.attachments.samples import pdf_bytes
from tests.collector.dashboards.seals import seal_and_check
from tests.collector.registry_backends import BACKENDS
from tests.collector.store_helpers import window
from tests.collector.web.documents import evidence_document, write_bundle

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
#: A module's ``pytestmark``: its tests run on the world of each registry backend, SQLite and
#: PostgreSQL (the ``web_backend`` fixture, tests/collector/web/conftest.py), not on SQLite only.
ON_BOTH_REGISTRIES = pytest.mark.parametrize("web_backend", BACKENDS, indirect=True, scope="module")
ROLES_USERS = {
    "admin": ("admin", None, None),
    "eng-a": ("platform", "plat-a", None),
    "eng-b": ("platform", "plat-b", None),
    "rev-nb": ("reviewer", None, "330200"),
    "rev-cn": ("reviewer", None, None),
    "obs-nb": ("observer", None, "330200"),
}
#: The contract every enterprise with a bundle above has in its file (tests/collector/web).
CONTRACT = pdf_bytes("retrofit contract")
CONTRACT_SHA256 = hashlib.sha256(CONTRACT).hexdigest()
BUNDLES = {"e01": "pass", "e02": "fail", "e03": "insufficient_data", "b01": "pass", "c01": "pass"}


#: e01's press-1 days whose seal differs from the stored row, and the day left unsealed.
DIFFERENT_DAY = dt.date(2026, 6, 3)
UNSEALED_DAY = dt.date(2026, 3, 4)


def agent_key(agent_id: str) -> Ed25519PrivateKey:
    """The agent's private key: derived from its id, so a test can sign as the agent."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(agent_id.encode()).digest())


def _key(agent_id: str) -> str:
    return wire.public_key_text(agent_key(agent_id).public_key())


def _enterprise(prefix: str, number: int) -> dict[str, Any]:
    eid = f"{prefix}{number:02d}"
    return {
        "id": eid,
        "name": f"宁波试点企业 {eid}" if prefix != "c" else f"深圳试点企业 {eid}",
        "industry": "汽车零部件及配件制造 C3670",
        "retrofit_cost_cny": f"{400000 + number * 50000}.00",
        "solution": "设备联网与 OEE 看板",
        "baseline": {"start": "2026-02-02", "end": "2026-03-29"},
        "go_live": "2026-05-06",
        "reporting": {"start": "2026-06-01", "end": "2026-08-30"},
        "targets": {"oee": {"direction": "increase", "size": 5, "unit": "pp"}},
        "agents": [
            {"id": f"{eid}-gw", "public_key": _key(f"{eid}-gw"), "devices": ["press-1", "meter-1"]}
        ],
    }


def plan_text(code: str, name: str, platforms: dict[str, str]) -> str:
    """A valid plan of one province with ten enterprises per platform."""
    plan = {
        "province": {"code": code, "name": name},
        "batch_year": 2026,
        "implementation_period": {"start": "2026-01-01", "end": "2026-12-31"},
        "sub_industries": [{"id": "auto-parts", "name": "汽车零部件", "category": "auto_parts"}],
        "platforms": [
            {
                "id": pid,
                "name": f"服务平台 {pid}",
                "sub_industry": "auto-parts",
                "enterprises": [_enterprise(prefix, n) for n in range(1, 11)],
            }
            for pid, prefix in platforms.items()
        ],
    }
    return yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)


@dataclass
class World:
    """Everything the app under test reads, and the tokens to read it with."""

    registry: Registry
    #: Where the registry is, as a configuration names it: the SQLite file, or the
    #: PostgreSQL URL with its password (``registry.path`` leaves the password out).
    registry_at: Path | str
    settings: WebSettings
    tokens: dict[str, str] = field(default_factory=dict)
    bundles: dict[str, BundleInfo] = field(default_factory=dict)
    influx_url: str | None = None
    #: The InfluxDB database of this world's windows: one per world, so two worlds on one
    #: influxd (one per registry backend) never see each other's points.
    influx_database: str = "rv"

    def influx_opener(self) -> Callable[[], InfluxStore] | None:
        """How the app opens this world's InfluxDB database (``create_app``'s ``influx``), or
        None if the world has no influxd."""
        url, database = self.influx_url, self.influx_database
        return None if url is None else (lambda: InfluxStore(url, database))

    def read_influx_of(self, other: World) -> None:
        """Read ``other``'s InfluxDB database (a world of a test's own, on the session's data)."""
        self.influx_url, self.influx_database = other.influx_url, other.influx_database

    def headers(self, user: str) -> dict[str, str]:
        """Bearer headers of a user."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def build_world(
    root: Path,
    influx: InfluxServer | None,
    *,
    registry_at: Path | str | None = None,
    influx_database: str = "rv",
) -> World:
    """Fill a registry, an evidence folder and (if given) InfluxDB's ``influx_database`` under
    ``root``; the registry is ``registry_at`` (an empty PostgreSQL database's URL, say) or a
    new SQLite file in ``root``."""
    location = root / "registry.sqlite" if registry_at is None else registry_at
    registry = Registry(location)
    for code, name, platforms in (
        ("330200", "浙江省宁波市", {"plat-a": "e", "plat-b": "b"}),
        ("440300", "广东省深圳市", {"plat-c": "c"}),
    ):
        registry.load_plan(
            parse_plan(plan_text(code, name, platforms), f"{code}.yaml"), by="省厅", now=T0
        )
    write_totp_key(root / "totp.key")
    settings = WebSettings(
        evidence_dir=root / "evidence",
        totp_key_path=root / "totp.key",
        cookie_secure=False,
        allowed_hosts=("testserver", "127.0.0.1", "localhost"),  # TestClient's, a real serve's
    )
    influx_url = None if influx is None else influx.url
    world = World(
        registry, location, settings, influx_url=influx_url, influx_database=influx_database
    )
    for user, (role, platform, province) in ROLES_USERS.items():
        registry.add_user(
            user,
            display_name=f"用户 {user}",
            role=role,
            platform=platform,
            province=province,
            by="setup",
            now=T0,
        )
        world.tokens[user] = registry.issue_token(user, label="tests", by="setup", now=T0).text
    directory = DirectoryCache(registry).current()
    store = BundleStore(settings.evidence_dir)
    for eid, status in BUNDLES.items():
        document = evidence_document(directory.enterprises[eid], status)
        world.bundles[eid] = store.store(eid, functools.partial(write_bundle, document))
    now = dt.datetime.now(dt.UTC)
    registry.update_status(
        "e01-gw",
        last_seen=now,
        version="0.1.0",
        config_digest=wire.config_digest(b"x"),
        outbox_depth=3,
        state="online",
    )
    registry.update_status(
        "b01-gw",
        last_seen=now - dt.timedelta(hours=2),
        version="0.1.0",
        config_digest=wire.config_digest(b"x"),
        outbox_depth=0,
        state="online",
    )
    registry.record_seqs([("e01-gw", 5, "a" * 64)])  # opens the gap 1..4
    registry.quarantine_add(
        b"{bad", "rv/v1/plat-a/e01/e01-gw/windows", T0, "not_json", "x", "e01-gw"
    )
    registry.quarantine_add(b"{bad", "rv/v1/plat-b/b01/b01-gw/windows", T0, "not_json", "x", None)
    registry.quarantine_add(b"\xff", "garbage/topic", T0, "bad_topic", "no platform", None)
    for eid in ("e01", "b01", "c01"):  # the same contract in three files: one stored copy
        upload = checked_upload(
            CONTRACT, kind="contract", name="改造合同.pdf", amount=None, max_bytes=1 << 20
        )
        registry.attach(eid, upload, by="setup", now=T0)
    if influx is not None:
        asyncio.run(_fill_influx(influx.url, influx_database, registry))
    return world


async def _fill_influx(url: str, database: str, registry: Registry) -> None:
    # Six days of plat-a e01's press-1: three in the baseline, three in the reporting period.
    days = [
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 3),
        dt.date(2026, 3, 4),
        dt.date(2026, 6, 2),
        dt.date(2026, 6, 3),
        dt.date(2026, 6, 4),
    ]
    records = []
    for number, day in enumerate(days):
        run = 2700.0 if day.month == 3 else 3060.0
        for hour in range(8):
            end = dt.datetime(day.year, day.month, day.day, 1 + hour, tzinfo=dt.UTC)
            win = window(
                end,
                seconds=3600,
                run_s=run,
                idle_s=3600 - run,
                down_s=0.0,
                total_count=600,
                good_count=590,
                reject_count=10,
                ideal_cycle_s=4.0,
            )
            records.append(WindowRecord("plat-a", "e01", "e01-gw", number * 8 + hour + 1, win))
    # And one window of ten minutes ago: the fleet's "last window" looks back 30 days.
    recent = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    records.append(WindowRecord("plat-a", "e01", "e01-gw", 100, window(recent)))
    async with InfluxStore(url, database) as store:
        await store.ensure_database()
        await store.ensure_retention()
        await store.write(records)
        await store.refresh_days([DayKey("e01", "press-1", day, "Asia/Shanghai") for day in days])
        await seal_and_check(
            store, registry, records[:-1], {"e01-gw": agent_key("e01-gw")}, tz="Asia/Shanghai",
            different={("press-1", DIFFERENT_DAY)}, unsealed={("press-1", UNSEALED_DAY)},
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
