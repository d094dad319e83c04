"""A registry made by an earlier release's schema (versions 3 and 7, frozen in
tests/collector/registry_schemas/) is upgraded in place by opening it with this code, on both
engines; on PostgreSQL only by the tables' owner, and ``registry init --grant`` then gives the
collectors' role what it needs and nothing more. Version 7 is the release before the dirty
days kept their earliest window end: its marked days read as not known."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.errors import RegistryUnavailable
from collector.registry import Registry
from collector.registry.sql import SCHEMA_VERSION
from collector.registry.transfer import TABLE_GROUPS
from tests.collector.config_helpers import write_collector_config
from tests.collector.registry_backends import RAW_ERRORS, RegistryCluster, raw_execute, raw_rows

SCHEMAS = Path(__file__).parent / "registry_schemas"
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
_serial = itertools.count()

#: Rows a version-3 collector wrote: a user, an audit row, a quarantined message.
V3_ROWS = (
    "INSERT INTO users (user_id, display_name, role, created_at, created_by) "
    "VALUES ('ops', '运维', 'admin', '2026-05-01T08:00:00.000000Z', 'setup')",
    "INSERT INTO audit (at, actor, action, subject, detail) "
    "VALUES ('2026-05-01T08:00:00.000000Z', 'setup', 'user.add', 'ops', '{}')",
    "INSERT INTO quarantine (received_at, topic, reason, detail, agent_id, raw, raw_length, "
    "raw_sha256) VALUES ('2026-05-01T08:00:00.000000Z', 'rv/v1/p/e/a/windows', 'not_json', "
    "'old', 'a', X'00ff', 2, 'ab')",
)


#: A day a version-7 collector marked for its rollup refresh.
V7_ROWS = (
    "INSERT INTO rollup_dirty (enterprise, device, day, tz, generation) "
    "VALUES ('ent-01', 'press-1', '2026-06-01', 'Asia/Shanghai', 3)",
)


def _v3(engine: str, tmp_path: Path, cluster: RegistryCluster | None) -> Path | str:
    return _made_by(engine, 3, V3_ROWS, tmp_path, cluster)


def _made_by(
    engine: str,
    version: int,
    rows: tuple[str, ...],
    tmp_path: Path,
    cluster: RegistryCluster | None,
) -> Path | str:
    """A registry made by the frozen schema of ``version`` holding ``rows``."""
    script = (SCHEMAS / f"{engine}-v{version}.sql").read_text(encoding="utf-8")
    if cluster is None:
        location: Path | str = tmp_path / f"v{version}.sqlite"
        raw_execute(location, script, *rows)
        return location
    name = f"v{version}_{next(_serial)}"
    cluster.server.create_database(name)
    location = cluster.server.url(name)
    postgres_rows = [row.replace("X'00ff'", "'\\x00ff'::bytea") for row in rows]
    raw_execute(location, script, *postgres_rows)
    return location


def _version(location: Path | str) -> int:
    if isinstance(location, Path):
        return int(str(raw_rows(location, "PRAGMA user_version")[0][0]))
    return int(str(raw_rows(location, "SELECT version FROM schema_version")[0][0]))


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_version_3_registry_is_upgraded_in_place(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cluster = request.getfixturevalue("registry_cluster") if engine == "postgres" else None
    location = _v3(engine, tmp_path, cluster)
    assert _version(location) == 3 and SCHEMA_VERSION > 3
    with Registry(location) as upgraded:
        assert [user.user_id for user in upgraded.users()] == ["ops"]
        assert [entry.action for entry in upgraded.audit()] == ["user.add"]
        assert upgraded.quarantine_prune(T0, by="ops", now=T0) == {"not_json": 1}
        assert upgraded.quarantine_counts() == {"not_json": 1}
    assert _version(location) == SCHEMA_VERSION
    with pytest.raises(RAW_ERRORS, match="quarantine_pruned is append-only"):
        raw_execute(location, "DELETE FROM quarantine_pruned")
    with pytest.raises(RAW_ERRORS, match="audit is append-only"):
        raw_execute(location, "DELETE FROM audit")
    Registry(location).close()  # opening again changes nothing
    assert _version(location) == SCHEMA_VERSION


def test_on_postgresql_the_owner_upgrades_and_grants_the_collectors_role(
    registry_cluster: RegistryCluster, tmp_path: Path
) -> None:
    owner_url = str(_v3("postgres", tmp_path, registry_cluster))
    role = f"collector_{next(_serial)}"
    raw_execute(
        owner_url,
        f"CREATE ROLE {role} LOGIN PASSWORD 'pw'",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    )
    role_url = owner_url.replace(f"rv:{registry_cluster.server.password}@", f"{role}:pw@")
    # The collectors' role may not change the schema: a clear refusal, nothing changed.
    with pytest.raises(RegistryUnavailable, match="run `retrofit-collector registry init`"):
        Registry(role_url)
    assert _version(owner_url) == 3

    config = write_collector_config(tmp_path, owner_url)
    result = CliRunner().invoke(app, ["registry", "init", "-c", str(config), "--grant", role])
    assert result.exit_code == 0, result.output
    assert f"schema version {SCHEMA_VERSION}" in result.output
    # Every registry table and schema_version.
    tables = sum(len(group) for _, group in TABLE_GROUPS) + 1
    assert f"granted SELECT, INSERT, UPDATE, DELETE on {tables} tables to {role}" in result.output
    assert _version(owner_url) == SCHEMA_VERSION

    with Registry(role_url) as registry:
        registry.quarantine_add(b"x", "t", T0, "not_json", "new")
        assert registry.quarantine_prune(T0 + dt.timedelta(days=1), by="ops") == {"not_json": 2}
        assert registry.quarantine_counts() == {"not_json": 2}
    for statement, refusal in (
        ("DROP TRIGGER quarantine_pruned_append_only ON quarantine_pruned", "must be owner"),
        ("TRUNCATE quarantine", "permission denied"),
        ("CREATE TABLE extra (x int)", "permission denied"),
        ("DELETE FROM quarantine_pruned", "append-only"),
    ):
        with pytest.raises(RAW_ERRORS, match=refusal):
            raw_execute(role_url, statement)


def test_init_refuses_a_grant_on_sqlite(tmp_path: Path) -> None:
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    runner = CliRunner()
    result = runner.invoke(app, ["registry", "init", "-c", str(config), "--grant", "collector"])
    assert result.exit_code == 1 and "only for a PostgreSQL registry" in result.output
    result = runner.invoke(app, ["registry", "init", "-c", str(config)])
    assert result.exit_code == 0 and f"schema version {SCHEMA_VERSION}" in result.output


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_version_7_registrys_marked_days_are_kept_and_read_as_not_known(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Marked before the queue kept each day's earliest window end: any window may have been
    # written, so the mark stays "not known" (the refresh recomputes the day whole) until the
    # day is refreshed and cleared; a day marked afterwards keeps its earliest end.
    cluster = request.getfixturevalue("registry_cluster") if engine == "postgres" else None
    location = _made_by(engine, 7, V7_ROWS, tmp_path, cluster)
    assert _version(location) == 7
    day, zone, end_ms = dt.date(2026, 6, 1), "Asia/Shanghai", 1_780_243_200_000
    with Registry(location) as upgraded:
        assert upgraded.dirty_days() == [("ent-01", "press-1", day, zone, 3, None)]
        upgraded.mark_days_dirty([("ent-01", "press-1", day, zone, end_ms)])
        assert upgraded.dirty_days() == [("ent-01", "press-1", day, zone, 4, None)]
        upgraded.clear_dirty_days([("ent-01", "press-1", day, 4)])
        upgraded.mark_days_dirty([("ent-01", "press-1", day, zone, end_ms)])
        upgraded.mark_days_dirty([("ent-01", "press-1", day, zone, end_ms - 60_000)])
        upgraded.mark_days_dirty([("ent-01", "press-1", day, zone, end_ms + 60_000)])
        assert upgraded.dirty_days() == [("ent-01", "press-1", day, zone, 3, end_ms - 60_000)]
        upgraded.mark_days_dirty([("ent-01", "press-1", day, zone, None)])
        assert upgraded.dirty_days() == [("ent-01", "press-1", day, zone, 4, None)]
    assert _version(location) == SCHEMA_VERSION
    Registry(location).close()  # opening again changes nothing
    assert _version(location) == SCHEMA_VERSION
