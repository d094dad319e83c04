"""``dashboards snapshot`` and ``dashboards evidence`` write what the panels read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app
from collector.evidence.document import canonical_json
from collector.registry import Registry
from stack import InfluxServer
from tests.collector.dashboards.documents import enterprise_evidence
from tests.collector.dashboards.fill import fill_registry


def test_snapshot_and_evidence_commands_write_their_points(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    influxd.create_database("rv")
    with Registry(tmp_path / "registry.sqlite") as registry:
        fill_registry(registry, dt.datetime.now(dt.UTC))
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"registry: registry.sqlite\nbroker: {{host: 127.0.0.1}}\n"
        f"influx: {{url: '{influxd.url}', database: rv}}\n"
    )
    runner = CliRunner()
    snapshot = runner.invoke(app, ["dashboards", "snapshot", "--config", str(config)])
    assert snapshot.exit_code == 0, snapshot.output
    document = tmp_path / "evidence.json"
    document.write_bytes(canonical_json(enterprise_evidence("ent-01", passed=True, flagged=False)))
    written = runner.invoke(app, ["dashboards", "evidence", str(document), "--config", str(config)])
    assert written.exit_code == 0, written.output

    agents = influxd.query_rows("rv", 'SELECT COUNT("online") FROM "fleet"."fleet_agent"')
    assert agents and agents[0]["count"] >= 10  # every agent of the example plan
    verdict = influxd.query_rows("rv", 'SELECT "status" FROM "rollup"."evidence_enterprise"')
    assert [row["status"] for row in verdict] == ["pass"]

    document.write_text('{"format": "something else"}')
    refused = runner.invoke(
        app,
        ["dashboards", "evidence", str(document), "--config", str(config)],
        env={"COLUMNS": "250"},
    )
    assert refused.exit_code == 2 and "not an evidence document" in refused.output
