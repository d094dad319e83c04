"""InfluxStore against an influxd with authentication on: credentials work, refusals map."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from collector.config import load_collector_config
from collector.dashboards.feed import ensure_fleet_retention
from collector.store import AuthFailed, InfluxStore, Token, UserPassword
from stack import InfluxServer
from tests.collector.store_helpers import count_windows, record, window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

END = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
BIN = Path(sys.executable).parent


class AuthInfluxServer(InfluxServer):
    """The stack's influxd with ``[http] auth-enabled = true``.

    stack.InfluxServer has no switch for it yet, so this test adds the key to the config it
    writes (a real server, nothing faked).
    """

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config_path.read_text()
        marker = "[http]\n  enabled = true\n"
        assert marker in text, "stack.influxd's config template changed"
        self.config_path.write_text(text.replace(marker, marker + "  auth-enabled = true\n"))


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[InfluxServer]:
    server = AuthInfluxServer(tmp_path / "influxd-auth")
    server.start()
    statements = [
        # With no user yet, influxd accepts exactly this without credentials.
        "CREATE USER admin WITH PASSWORD 'admin-pw' WITH ALL PRIVILEGES",
        'CREATE DATABASE "rv"',
        "CREATE USER reader WITH PASSWORD 'reader-pw'",
        'GRANT READ ON "rv" TO reader',
    ]
    for statement in statements:
        response = httpx.post(
            f"{server.url}/query", data={"q": statement}, auth=("admin", "admin-pw"), timeout=10
        )
        assert response.status_code == 200, response.text
    yield server
    server.stop()


@pytest.mark.parametrize("in_query", [False, True])
async def test_user_and_password_write_and_read(secured: InfluxServer, in_query: bool) -> None:
    auth = UserPassword("admin", "admin-pw", in_query=in_query)
    async with InfluxStore(secured.url, "rv", auth=auth) as store:
        await store.ensure_database()
        await store.ensure_retention()
        await store.write([record(window(END))])
        assert await count_windows(store) == 1


async def test_a_wrong_password_is_401_and_not_retryable(secured: InfluxServer) -> None:
    async with InfluxStore(secured.url, "rv", auth=UserPassword("admin", "wrong")) as store:
        with pytest.raises(AuthFailed) as refused:
            await store.write([record(window(END))])
    assert refused.value.status_code == 401
    assert not refused.value.retryable
    assert "authorization failed" in refused.value.server_message
    assert "check the credentials" in str(refused.value)
    assert "wrong" not in str(refused.value)  # no secret in the message


async def test_no_credentials_or_a_token_on_1x_is_401(secured: InfluxServer) -> None:
    # 1.x knows users, not the 2.x/3.x token scheme: a token is refused like no credentials.
    for auth in (None, Token("a-2x-token")):
        async with InfluxStore(secured.url, "rv", auth=auth) as store:
            with pytest.raises(AuthFailed) as refused:
                await store.query('SHOW MEASUREMENTS ON "rv"')
        assert refused.value.status_code == 401


async def test_a_user_without_write_rights_is_403(secured: InfluxServer) -> None:
    reader = UserPassword("reader", "reader-pw")
    async with InfluxStore(secured.url, "rv", auth=reader, raw_retention_policy=None) as store:
        with pytest.raises(AuthFailed) as refused:
            await store.write([record(window(END))])
        assert await store.query('SELECT * FROM "rv".."kpi_window"') == []  # reading is allowed
    assert refused.value.status_code == 403
    assert "not authorized to write" in refused.value.server_message


def _as_admin(server: InfluxServer, statement: str) -> list[list[object]]:
    response = httpx.post(
        f"{server.url}/query", data={"q": statement}, auth=("admin", "admin-pw"), timeout=10
    )
    response.raise_for_status()
    series = response.json()["results"][0].get("series", [{}])
    return list(series[0].get("values", []))


def test_a_collector_user_without_admin_rights_once_store_init_made_the_schema(
    secured: InfluxServer, tmp_path: Path
) -> None:
    # Least privilege: the collector's user holds ALL on its database, no admin right. It may
    # not create databases or retention policies, so an administrator runs `store init` once.
    _as_admin(secured, "CREATE USER collector WITH PASSWORD 'collector-pw'")
    _as_admin(secured, 'GRANT ALL ON "rv" TO collector')

    async def refused_schema() -> AuthFailed:
        collector = UserPassword("collector", "collector-pw")
        async with InfluxStore(secured.url, "rv", auth=collector) as store:
            with pytest.raises(AuthFailed) as refused:
                await store.ensure_retention()
        return refused.value

    assert asyncio.run(refused_schema()).status_code == 403
    config = tmp_path / "collector.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "registry": str(tmp_path / "registry.sqlite"),
                "broker": {"host": "127.0.0.1", "port": 1883},
                "influx": {"url": secured.url, "database": "rv", "username": "collector",
                           "password": "collector-pw", "manage_schema": False},
            }
        )
    )  # fmt: skip
    init = [str(BIN / "retrofit-collector"), "store", "init", "--config", str(config)]
    as_collector = subprocess.run(init, capture_output=True, text=True, check=False)
    assert as_collector.returncode == 4 and "403" in as_collector.stderr, as_collector.stderr
    admin = {**os.environ, "RV_INFLUX_ADMIN_PASSWORD": "admin-pw"}
    done = subprocess.run(
        [*init, "--username", "admin"], capture_output=True, text=True, env=admin, check=False
    )
    assert done.returncode == 0, done.stderr
    policies = _as_admin(secured, 'SHOW RETENTION POLICIES ON "rv"')
    assert {"raw", "rollup", "fleet"} <= {row[0] for row in policies}

    # With the schema in place the collector's own store leaves it alone, and writes and reads.
    async def collect() -> int:
        async with load_collector_config(config).store() as store:
            assert not store.manage_schema
            await store.ensure_database()
            assert await store.ensure_retention() == []
            await ensure_fleet_retention(store)
            await store.write([record(window(END))])
            return await count_windows(store)

    assert asyncio.run(collect()) == 1
