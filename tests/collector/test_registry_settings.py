"""The ``registry:`` key (collector/registry/settings.py): a SQLite path as always, or a
PostgreSQL URL with its password from the environment or a file, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collector.cli import app
from collector.config import load_collector_config
from collector.registry import Registry, RegistrySettings
from contract.errors import ConfigInvalidError
from tests.collector.registry_backends import RAW_ERRORS, RegistryCluster, raw_execute

_OTHER_KEYS = "broker: {host: 127.0.0.1}\ninflux: {url: 'http://127.0.0.1:8086'}\n"


def _config(folder: Path, registry_yaml: str) -> Path:
    path = folder / "collector.yaml"
    path.write_text(_OTHER_KEYS + registry_yaml, encoding="utf-8")
    return path


def test_a_path_is_the_sqlite_file_as_before(tmp_path: Path) -> None:
    config = load_collector_config(_config(tmp_path, "registry: reg.sqlite\n"))
    assert config.registry == RegistrySettings(url=str(tmp_path / "reg.sqlite"))
    assert not config.registry.is_postgres
    with Registry(config.registry) as registry:
        assert registry.path == tmp_path / "reg.sqlite"
    assert (tmp_path / "reg.sqlite").is_file()


def test_a_url_alone_or_with_a_password_file(tmp_path: Path) -> None:
    url = "postgresql://collector@db.example.org:5432/registry"
    assert load_collector_config(_config(tmp_path, f"registry: {url}\n")).registry.url == url
    mapping = f"registry:\n  url: {url}\n  password_file: secret.txt\n  pool_size: 8\n"
    settings = load_collector_config(_config(tmp_path, mapping)).registry
    assert (settings.is_postgres, settings.pool_size) == (True, 8)
    assert settings.password_file == tmp_path / "secret.txt"


@pytest.mark.parametrize(
    ("registry_yaml", "expected"),
    [
        (
            "registry: {url: 'mysql://u:hunter2@h/db'}\n",
            "collector.yaml:3 registry: got a mapping: url: got a mysql:// URL, expected a "
            "SQLite file path or a postgresql:// URL",
        ),
        (
            "registry: {url: reg.sqlite, password: hunter2}\n",
            "collector.yaml:3 registry: got a mapping: password: only for a postgresql:// url",
        ),
        (
            "registry: {url: reg.sqlite, pool_size: 2}\n",
            "collector.yaml:3 registry: got a mapping: pool_size: only for a postgresql:// url",
        ),
        (
            "registry: {url: 'postgresql://u@h/db', password: hunter2, password_file: f}\n",
            "collector.yaml:3 registry: got a mapping: give either password or password_file",
        ),
        (
            "registry: {url: 'postgresql://u:hunter2@h/db', password_file: f}\n",
            "collector.yaml:3 registry: got a mapping: the url has a password already",
        ),
        (
            "registry:\n  url: 'postgresql://u@h/db'\n  pool_size: 0\n",
            "collector.yaml:5 registry.pool_size: got 0",
        ),
    ],
)
def test_a_registry_setting_that_does_not_fit_is_a_located_error(
    tmp_path: Path, registry_yaml: str, expected: str
) -> None:
    with pytest.raises(ConfigInvalidError) as refused:
        load_collector_config(_config(tmp_path, registry_yaml))
    assert expected in str(refused.value)
    assert "hunter2" not in str(refused.value)


def _pg_config(path: Path, cluster: RegistryCluster, login: dict[str, str]) -> str:
    """A configuration naming a fresh database by a URL without its password."""
    url = cluster.fresh().replace(f":{cluster.server.password}@", "@")
    document = {
        "registry": {"url": url, **login},
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": "http://127.0.0.1:8086"},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


def test_the_password_comes_from_a_file_or_the_environment_and_is_never_shown(
    tmp_path: Path, registry_cluster: RegistryCluster
) -> None:
    password = registry_cluster.server.password
    secret = tmp_path / "registry-password"
    secret.write_text(password + "\n", encoding="utf-8")
    runner = CliRunner()

    from_file = _pg_config(tmp_path / "file.yaml", registry_cluster, {"password_file": str(secret)})
    result = runner.invoke(app, ["users", "add", "ops", "--name", "运维", "--role", "admin",
                                 "--by", "setup", "--config", from_file])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["users", "list", "--config", from_file])
    assert result.exit_code == 0 and "ops" in result.output

    from_env = _pg_config(
        tmp_path / "env.yaml", registry_cluster, {"password": "${RV_REGISTRY_PASSWORD}"}
    )
    result = runner.invoke(
        app, ["users", "list", "--config", from_env], env={"RV_REGISTRY_PASSWORD": password}
    )
    assert result.exit_code == 0, result.output
    assert password not in result.output

    result = runner.invoke(
        app, ["users", "list", "--config", from_env], env={"RV_REGISTRY_PASSWORD": "wrong-pw"}
    )
    assert result.exit_code == 2
    assert "password authentication failed" in result.output
    assert "postgresql://rv@127.0.0.1:" in result.output
    assert "wrong-pw" not in result.output and password not in result.output

    secret.unlink()
    result = runner.invoke(app, ["users", "list", "--config", from_file])
    assert result.exit_code == 2, (result.output, result.exception)
    assert f"registry password_file {secret}: No such file or directory" in result.output


def test_a_role_that_does_not_own_the_tables_cannot_drop_the_audit_triggers(
    registry_cluster: RegistryCluster,
) -> None:
    """docs/operations.md's set-up: the owner creates the schema, the collector's role only
    reads and writes, so the append-only triggers hold against it too."""
    owner_url = registry_cluster.fresh()
    Registry(owner_url).close()
    grants = (
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'collector') THEN "
        "CREATE ROLE collector LOGIN PASSWORD 'collector-pw'; END IF; END $$",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO collector",
    )
    raw_execute(owner_url, *grants)
    url = owner_url.replace(f"rv:{registry_cluster.server.password}@", "collector@")
    with Registry(url, password="collector-pw") as registry:
        registry.add_user("ops", display_name="运维", role="admin", by="setup")
        assert [e.action for e in registry.audit()] == ["user.add"]
    collector_url = url.replace("collector@", "collector:collector-pw@")
    for statement, refusal in (
        ("DROP TRIGGER audit_append_only ON audit", "must be owner of"),
        ("ALTER TABLE audit DISABLE TRIGGER audit_append_only", "must be owner of"),
        ("DELETE FROM audit", "audit is append-only"),
        ("UPDATE audit SET actor = 'mallory'", "audit is append-only"),
        ("TRUNCATE audit", "permission denied"),
    ):
        with pytest.raises(RAW_ERRORS, match=refusal):
            raw_execute(collector_url, statement)
