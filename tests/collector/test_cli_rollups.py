"""``retrofit-collector rollups refresh`` on a real influxd and registry: the repair refreshes the
rows and then checks each against its day seal, as the ingest does after its own refreshes.

The windows of four days are written without a refresh (as after a refresh that failed); an
agent sealed three of them, the third over only 20 of its 24 windows. The command must record
each row's outcome in the registry's ``day_checks`` (by the refresh, the Merkle root rebuilt).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collector.cli import app
from collector.plan import load_plan
from collector.registry import Registry
from contract import wire
from stack import InfluxServer
from tests.collector.store_helpers import open_store
from tests.collector.test_bundle_seals import (
    BASE1,
    BASE2,
    ENTERPRISE,
    REPORT1,
    REPORT2,
    _chain,
    _day_windows,
    _pairs,
    _plan,
)

pytestmark = pytest.mark.timeout(120)

AT = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def test_a_refresh_from_the_command_line_checks_each_row_against_its_seal(
    tmp_path: Path, influxd: InfluxServer
) -> None:
    days = {day: _day_windows(day, 100 * n + 1) for n, day in enumerate((BASE1, BASE2, REPORT1))}
    days[REPORT2] = _day_windows(REPORT2, 401)
    chain = _chain()
    seals = [
        chain.seal(BASE1, _pairs(days[BASE1]), seq=1000),
        chain.seal(BASE2, _pairs(days[BASE2]), seq=1001),
        chain.seal(REPORT1, _pairs(days[REPORT1][:20]), seq=1002),  # short of the stored day
    ]  # REPORT2 unsealed
    registry_path = tmp_path / "registry.sqlite"
    with Registry(registry_path) as registry:
        registry.load_plan(load_plan(_plan(tmp_path / "plan.yaml")), by="test")
        for raw in seals:
            registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=AT)

    async def write() -> None:
        async with open_store(influxd) as store:
            await store.write([record for records in days.values() for record in records])

    asyncio.run(write())
    config = tmp_path / "collector.yaml"
    config.write_text(yaml.safe_dump({
        "registry": str(registry_path), "broker": {"host": "127.0.0.1"},
        "influx": {"url": influxd.url, "database": "rv"},
    }))  # fmt: skip

    result = CliRunner().invoke(
        app,
        ["rollups", "refresh", ENTERPRISE, "--from", BASE1.isoformat(), "--to",
         REPORT2.isoformat(), "--config", str(config)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "checked against their day seals: 2 sealed_equal, 1 sealed_different, 1 unsealed" in (
        " ".join(result.stdout.split())
    )
    with Registry(registry_path) as registry:
        held = registry.day_checks(ENTERPRISE, BASE1, REPORT2)
    outcomes = {check.day: (check.outcome, check.checked_by) for check in held}
    assert outcomes == {
        BASE1: ("sealed_equal", "refresh"),
        BASE2: ("sealed_equal", "refresh"),
        REPORT1: ("sealed_different", "refresh"),
        REPORT2: ("unsealed", "refresh"),
    }
    (short,) = [check for check in held if check.day == REPORT1]
    assert short.root_checked
    assert {"windows", "merkle_root"} <= {d.field for d in short.differences}
