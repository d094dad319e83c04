"""``broker acl``: the ACL written from the registry, and a clear error where it cannot be."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app
from collector.plan import load_plan
from collector.registry import Registry
from tests.collector.config_helpers import write_collector_config

VALID = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _config(tmp_path: Path) -> Path:
    registry_file = tmp_path / "registry.sqlite"
    with Registry(registry_file) as registry:
        registry.load_plan(load_plan(VALID), by="alice", now=T0)
    return write_collector_config(tmp_path, registry_file)


def test_acl_is_written_atomically_where_asked(tmp_path: Path) -> None:
    out = tmp_path / "acl"
    result = CliRunner().invoke(
        app, ["broker", "acl", "-c", str(_config(tmp_path)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert (
        "user plat-a-e01-gw" in text
        and "topic write rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/" in text
    )
    assert not out.with_name("acl.new").exists()


def test_an_acl_path_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "acl"
    result = CliRunner().invoke(
        app, ["broker", "acl", "-c", str(_config(tmp_path)), "--out", str(out)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3
    assert f"error: {out}: cannot write" in result.output
    assert "Traceback" not in result.output
