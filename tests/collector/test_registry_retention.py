"""The quarantine's retention: entries older than it are deleted, their counts stay (the
evidence's quarantine counts do not change), the prune is audited; on both backends."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collector.cli import app
from collector.registry import Registry
from tests.collector.registry_backends import RAW_ERRORS, raw_execute, raw_rows

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
E01 = "rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/windows"


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        yield opened


def _quarantine(registry: Registry, days_ago: int, reason: str, topic: str = E01) -> int:
    agent = "plat-a-e01-gw" if topic == E01 else None
    at = T0 - dt.timedelta(days=days_ago)
    return registry.quarantine_add(b"\x00raw", topic, at, reason, f"{days_ago} days", agent)


def test_a_prune_keeps_the_counts_the_evidence_uses(registry: Registry) -> None:
    for days_ago, reason in ((400, "bad_signature"), (200, "bad_signature"), (100, "not_json")):
        _quarantine(registry, days_ago, reason)
    _quarantine(registry, 300, "not_json", topic="rv/v1/plat-a/plat-a-e01/ghost/windows")
    _quarantine(registry, 300, "bad_topic", topic="elsewhere/x")
    recent = _quarantine(registry, 10, "bad_signature")
    per_agent = registry.quarantine_counts_for("plat-a", "plat-a-e01", ["plat-a-e01-gw"])
    per_reason = registry.quarantine_counts()

    pruned = registry.quarantine_prune(T0 - dt.timedelta(days=30), by="ops", now=T0)

    assert pruned == {"bad_signature": 2, "not_json": 2, "bad_topic": 1}
    assert [entry.id for entry in registry.quarantine_list()] == [recent]
    assert registry.quarantine_counts_for("plat-a", "plat-a-e01", ["plat-a-e01-gw"]) == per_agent
    assert per_agent == {
        "plat-a-e01-gw": {"bad_signature": 3, "not_json": 1},
        "ghost": {"not_json": 1},
    }
    assert registry.quarantine_counts() == per_reason
    entry = registry.audit()[-1]
    assert (entry.action, entry.actor, entry.subject) == ("quarantine.prune", "ops", "quarantine")
    assert json.loads(entry.detail) == {
        "deleted": 5,
        "reasons": {"bad_signature": 2, "bad_topic": 1, "not_json": 2},
        "received_before": "2026-05-02T08:00:00.000000Z",
    }
    # Nothing older is left: a second prune deletes nothing and writes no audit row.
    assert registry.quarantine_prune(T0 - dt.timedelta(days=30), by="ops", now=T0) == {}
    assert registry.audit()[-1] == entry
    # New entries go on being counted beside the pruned ones.
    _quarantine(registry, 1, "bad_signature")
    assert registry.quarantine_counts()["bad_signature"] == per_reason["bad_signature"] + 1


def test_the_pruned_counts_are_append_only(
    registry: Registry, registry_location: Path | str
) -> None:
    _quarantine(registry, 100, "not_json")
    registry.quarantine_prune(T0, by="ops", now=T0)
    for statement in ("UPDATE quarantine_pruned SET messages = 0", "DELETE FROM quarantine_pruned"):
        with pytest.raises(RAW_ERRORS, match="quarantine_pruned is append-only"):
            raw_execute(registry_location, statement)
    assert raw_rows(registry_location, "SELECT messages FROM quarantine_pruned") == [(1,)]


def _config(tmp_path: Path, location: Path | str, retention: int | None) -> str:
    registry: dict[str, object] = {"url": str(location)}
    if retention is not None:
        registry["quarantine_retention_days"] = retention
    config = {
        "registry": registry,
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": "http://127.0.0.1:8086", "database": "rv"},
    }
    path = tmp_path / f"collector-{retention}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def test_the_command_prunes_by_the_configured_retention(
    registry: Registry, registry_location: Path | str, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    for days_ago in (0, 40, 400):
        registry.quarantine_add(b"x", "t", now - dt.timedelta(days=days_ago), "not_json", "")
    runner = CliRunner()
    without = _config(tmp_path, registry_location, None)
    result = runner.invoke(app, ["registry", "prune-quarantine", "--by", "ops", "-c", without])
    assert result.exit_code == 1 and "no quarantine retention" in result.output
    configured = _config(tmp_path, registry_location, 365)
    result = runner.invoke(app, ["registry", "prune-quarantine", "--by", "ops", "-c", configured])
    assert result.exit_code == 0, result.output
    assert "pruned 1 quarantined message received before" in result.output
    assert "(365 days): not_json 1" in result.output
    args = ["registry", "prune-quarantine", "--by", "ops", "-c", configured]
    result = runner.invoke(app, [*args, "--older-than-days", "30"])
    assert result.exit_code == 0 and "pruned 1 quarantined message" in result.output
    assert len(registry.quarantine_list()) == 1 and registry.quarantine_counts() == {"not_json": 3}
