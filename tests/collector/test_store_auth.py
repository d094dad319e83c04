"""InfluxStore against an influxd with authentication on: credentials work, refusals map."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from collector.store import AuthFailed, InfluxStore, Token, UserPassword
from stack import InfluxServer
from tests.collector.store_helpers import count_windows, record, window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

END = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


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
