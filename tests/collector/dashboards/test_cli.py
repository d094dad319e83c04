"""``dashboards snapshot`` and ``dashboards evidence`` write what the panels read."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.evidence.document import canonical_json
from collector.registry import Registry
from stack import InfluxServer
from tests.collector.dashboards.documents import enterprise_evidence
from tests.collector.dashboards.fill import fill_registry
from tests.collector.test_cli import COLLECTOR, cap_memory


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


@pytest.mark.parametrize("kind", ["dev_zero", "fifo"])
def test_evidence_refuses_a_document_that_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    # read_text() of /dev/zero grew without bound; of a FIFO, waited for ever (#14).
    config = tmp_path / "collector.yaml"
    config.write_text(
        "registry: registry.sqlite\nbroker: {host: 127.0.0.1}\n"
        "influx: {url: 'http://127.0.0.1:9', database: rv}\n"
    )
    document = Path("/dev/zero") if kind == "dev_zero" else tmp_path / "evidence.json"
    if kind == "fifo":
        os.mkfifo(document)

    result = subprocess.run(
        [COLLECTOR, "dashboards", "evidence", str(document), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,  # safety nets only, as in tests/collector/test_cli.py
        preexec_fn=cap_memory,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "not a regular file" in result.stderr and "expected an evidence JSON file" in result.stderr
    )
