"""The central stack's compose file, checked as far as it can be without a container engine.

No Docker engine runs here, and the Docker client on these machines has no compose plugin
(`docker compose config` is not available offline), so the file is validated against the
Compose Specification's own JSON schema (tests/deploy/compose-spec.json, from
compose-spec/compose-spec at 170098ba, Apache-2.0), and then against the rules the stack
depends on: healthchecks, pinned images, declared volumes, files that exist, secrets that
.env.example names, one client id per ingest replica, Grafana provisioning that matches the
dashboards, a collector image that installs the PDF engine's Debian packages (the list
deploy/local/setup.sh installs). The broker's own configuration runs on a real mosquitto in
test_broker.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import typer
import yaml

from collector import cli as collector_cli
from collector.accounts import write_totp_key
from collector.config import load_collector_config
from collector.dashboards import load_dashboards
from collector.registry import Registry
from collector.registry.transfer import TABLE_GROUPS
from contract.keys import generate_key_pair
from stack import PostgresServer
from stack.ports import free_port
from stack.postgres import SUPERUSER
from stack.process import ChildProcess

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "deploy" / "central"
# Made by the documented first steps (docs/operations.md), never committed: the PKI and the
# broker's password file and ACL.
GENERATED = {"pki/ca.pem", "pki/broker.pem", "pki/broker.key", "mosquitto/passwd", "mosquitto/acl"}
#: The bundle signing key, the TOTP sealing key and the confirmation key, made by
#: `retrofit-collector bundle-key generate`, `users totp-key` and `confirmation-key generate`
#: (never committed).
GENERATED_SECRETS = {
    "secrets/bundle-signing.key",
    "secrets/totp.key",
    "secrets/confirmation.key",
}

#: Every registry table and schema_version: what `registry init --grant` grants.
REGISTRY_TABLES = sum(len(group) for _, group in TABLE_GROUPS) + 1


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((CENTRAL / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose())
    ]
    assert errors == []
    broken = compose()
    broken["services"]["ingest-1"]["healthcheck"]["intervall"] = "30s"  # a typo is caught
    assert any("intervall" in e.message for e in validator.iter_errors(broken))


#: Run once per `up` and end; every other service stays up.
ONE_SHOT = "store-init"
REGISTRY_INIT = "registry-init"
#: The environment the collector's configuration names (compose passes each from .env).
CONFIG_ENV = {"RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y", "RV_REGISTRY_PASSWORD": "z"}


def test_every_service_is_pinned_restarted_and_health_checked() -> None:
    services = compose()["services"]
    assert set(services) == {
        "mosquitto", "influxdb", "postgres", "grafana", ONE_SHOT, REGISTRY_INIT, "ingest-1",
        "ingest-2", "web",
    }  # fmt: skip
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        if name in (ONE_SHOT, REGISTRY_INIT):
            assert service["restart"] == "no" and "healthcheck" not in service
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_the_collector_uses_a_user_without_admin_rights_after_store_init() -> None:
    services = compose()["services"]
    init = services[ONE_SHOT]
    # The command as the real CLI parses it: `store init` with the admin, password from env.
    group = typer.main.get_command(collector_cli.app)
    assert isinstance(group, typer.core.TyperGroup)  # the app has subcommands
    parent = typer.Context(group, info_name="retrofit-collector")
    name, store, rest = group.resolve_command(parent, init["command"])
    assert name == "store" and isinstance(store, typer.core.TyperGroup)
    sub, command, args = store.resolve_command(typer.Context(store, parent=parent), rest)
    assert sub == "init" and command is not None
    with command.make_context(sub, args, parent=parent) as context:
        assert context.params["username"] == "admin"
    assert "RV_INFLUX_ADMIN_PASSWORD" in init["environment"]
    for name in ("ingest-1", "ingest-2", "web"):
        depends = services[name]["depends_on"][ONE_SHOT]
        assert depends == {"condition": "service_completed_successfully"}, name
        assert "RV_INFLUX_ADMIN_PASSWORD" not in json.dumps(services[name]["environment"]), name
    influx = services["influxdb"]["environment"]
    assert influx["INFLUXDB_USER"] == "collector" and influx["INFLUXDB_DB"] == "rv"
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=CONFIG_ENV)
    assert config.influx.username == "collector" and not config.influx.manage_schema


def test_volumes_and_bind_mounts_exist() -> None:
    document = compose()
    named = set(document["volumes"])
    for name, service in document["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                relative = (CENTRAL / source).resolve().relative_to(ROOT)
                generated = str(relative).removeprefix("deploy/central/")
                assert (ROOT / relative).exists() or generated in GENERATED, (name, source)
            else:
                assert source in named, (name, source)


def test_every_secret_the_file_needs_is_in_env_example() -> None:
    text = (CENTRAL / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (CENTRAL / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required and required <= example


def test_the_bundle_and_totp_keys_are_the_web_services_the_confirmation_key_ingests() -> None:
    document = compose()
    for name, secret in document["secrets"].items():
        relative = str((CENTRAL / secret["file"]).resolve().relative_to(CENTRAL))
        assert (CENTRAL / relative).exists() or relative in GENERATED_SECRETS, (name, relative)
    holders = {
        name: sorted(svc["secrets"])
        for name, svc in document["services"].items()
        if svc.get("secrets")
    }
    # The replicas sign delivery confirmations only (#19); never bundles.
    assert holders == {
        "web": ["bundle-signing-key", "totp-key"],
        "ingest-1": ["confirmation-key"],
        "ingest-2": ["confirmation-key"],
    }
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=CONFIG_ENV)
    assert config.bundle.signing_key_path == Path("/run/secrets/bundle-signing-key")
    assert config.web.totp_key_path == Path("/run/secrets/totp-key")
    assert config.ingest.confirmation_key_path == Path("/run/secrets/confirmation-key")


def test_the_replicas_share_a_group_with_their_own_client_ids() -> None:
    services = compose()["services"]
    ids = [services[name]["command"][services[name]["command"].index("--client-id") + 1]
           for name in ("ingest-1", "ingest-2")]  # fmt: skip
    assert len(set(ids)) == 2
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=CONFIG_ENV)
    assert config.broker.group == "collectors" and config.broker.tls is not None
    assert config.broker.host == "mosquitto" and config.influx.url == "http://influxdb:8086"
    assert config.ingest.metrics_port == 9102  # what the ingest healthcheck asks
    assert "9102/healthz" in json.dumps(services["ingest-1"]["healthcheck"])


def test_grafana_provisioning_matches_the_dashboards() -> None:
    datasource = yaml.safe_load(
        (CENTRAL / "grafana/provisioning/datasources/influxdb.yaml").read_text()
    )["datasources"][0]
    provider = yaml.safe_load(
        (CENTRAL / "grafana/provisioning/dashboards/retrofit-verify.yaml").read_text()
    )["providers"][0]
    assert datasource["type"] == "influxdb" and datasource["jsonData"]["version"] == "InfluxQL"
    for dashboard in load_dashboards(ROOT / "dashboards"):
        (variable,) = [v for v in dashboard.variables if v.kind == "datasource"]
        assert variable.current == datasource["uid"]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"../../dashboards:{provider['options']['path']}:ro" in mounts


def test_the_broker_mounts_what_its_config_reads() -> None:
    conf = (CENTRAL / "mosquitto" / "mosquitto.conf").read_text()
    paths = set(
        re.findall(r"^(?:password_file|acl_file|cafile|certfile|keyfile) (\S+)$", conf, re.M)
    )
    targets = {m.split(":")[1] for m in compose()["services"]["mosquitto"]["volumes"]}
    assert len(paths) == 5 and paths <= targets
    assert "max_queued_messages 0" in conf and "autosave_interval 60" in conf


def pdf_packages() -> list[str]:
    """deploy/pdf-packages.txt: the Debian packages the report's PDF engine needs."""
    lines = (ROOT / "deploy" / "pdf-packages.txt").read_text(encoding="utf-8").splitlines()
    return [name for line in lines if (name := line.split("#", 1)[0].strip())]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The collector Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (CENTRAL / "collector" / "Dockerfile").read_text(encoding="utf-8")
    uncommented = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    joined = re.sub(r"\\\n\s*", "", uncommented)
    return [
        (keyword.upper(), arguments.strip())
        for keyword, arguments in re.findall(r"^(\w+)\s+(.*)$", joined, re.M)
    ]


def test_setup_installs_the_pdf_engine_list() -> None:
    assert {"libpango-1.0-0", "libharfbuzz-subset0", "fonts-noto-cjk"} <= set(pdf_packages())
    printed = subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / "setup.sh"), "--print-packages"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert set(pdf_packages()) <= set(printed) and "mosquitto" in printed


def test_the_collector_image_installs_the_pdf_engine_as_root() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    (copy_at,) = [i for i, (k, a) in enumerate(instructions)
                  if k == "COPY" and a.split()[0] == "deploy/pdf-packages.txt"]  # fmt: skip
    copied_to = instructions[copy_at][1].split()[1]
    (install_at,) = [i for i, (k, a) in enumerate(instructions)
                     if k == "RUN" and "apt-get install" in a]  # fmt: skip
    assert copy_at < install_at < keywords.index("USER")  # apt needs root
    assert '"pipefail"' in instructions[keywords.index("SHELL")][1]
    assert keywords.index("SHELL") < install_at
    command = instructions[install_at][1]
    assert command.startswith("apt-get update &&")
    # The list the RUN hands to apt-get, read by its own expression from the real file.
    (installer,) = [part for part in command.split("&&") if "apt-get install" in part]
    reader, _ = installer.split("|")
    assert copied_to in reader
    reader = reader.replace(copied_to, str(ROOT / "deploy" / "pdf-packages.txt"))
    listed = subprocess.run(["bash", "-c", reader], capture_output=True, text=True, check=True)
    assert listed.stdout.split() == pdf_packages()
    assert "xargs apt-get install -y --no-install-recommends" in installer


def test_only_the_broker_tls_port_is_published_beyond_loopback() -> None:
    # The web app and Grafana speak plain HTTP with passwords and tokens: a TLS proxy on the
    # host serves them. InfluxDB is not published at all.
    published = {name: service.get("ports", []) for name, service in compose()["services"].items()}
    beyond_loopback = {
        (name, port) for name, ports in published.items() for port in ports
        if not str(port).startswith("127.0.0.1:")
    }  # fmt: skip
    assert beyond_loopback == {("mosquitto", "8883:8883")}
    assert published["grafana"] == ["127.0.0.1:3000:3000"] and not published["influxdb"]


def serve_options(command: list[str]) -> dict[str, Any]:
    """The options compose's web command gives, parsed by the real ``retrofit-collector`` CLI.

    Raises typer.TyperException (a usage error) for an option or value ``serve`` refuses.
    """
    group = typer.main.get_command(collector_cli.app)
    assert isinstance(group, typer.core.TyperGroup)  # the app has subcommands
    parent = typer.Context(group, info_name="retrofit-collector")
    name, subcommand, rest = group.resolve_command(parent, command)
    assert name == "serve" and subcommand is not None
    with subcommand.make_context(name, rest, parent=parent) as context:
        return dict(context.params)


def test_the_web_command_parses_and_matches_ports_and_healthcheck() -> None:
    web = compose()["services"]["web"]
    options = serve_options(web["command"])
    assert options["host"] == "0.0.0.0"  # noqa: S104  # reachable from outside the container...
    assert web["ports"] == [f"127.0.0.1:{options['port']}:{options['port']}"]  # ...host loopback
    assert f"127.0.0.1:{options['port']}/healthz" in json.dumps(web["healthcheck"])
    # serve never connects to the broker
    assert set(web["depends_on"]) == {"influxdb", ONE_SHOT, REGISTRY_INIT}
    with pytest.raises(typer.TyperException, match="--listen"):
        serve_options(["serve", "--listen", "127.0.0.1"])  # an option serve lacks is refused
    with pytest.raises(typer.TyperException, match="integer"):
        serve_options(["serve", "--port", "http"])


def test_the_web_section_keeps_secure_cookies_and_bundles_on_the_volume() -> None:
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=CONFIG_ENV)
    assert config.web.cookie_secure is True  # reviewers come through the TLS proxy
    # The healthcheck's Host is 127.0.0.1; the proxy's name is the site's to fill in.
    assert "127.0.0.1" in config.web.allowed_hosts and len(config.web.allowed_hosts) == 2
    assert config.web.metrics_port == 9103
    volume = next(
        m.split(":")[1]
        for m in compose()["services"]["web"]["volumes"]
        if m.startswith("registry:")
    )
    assert config.web.evidence_dir.is_relative_to(volume)
    assert config.registry.is_postgres  # the stack's PostgreSQL, not a file on the volume


#: The registry's passwords in the deploy tests (compose takes them from .env).
OWNER_PASSWORD, COLLECTOR_PASSWORD = "owner-pw", "collector-pw"
ENTRY_POINT = Path(sys.executable).parent / "retrofit-collector"


def deployed_registry(postgres: PostgresServer, tmp_path: Path) -> Path:
    """What the stack does before a collector starts, on a real PostgreSQL: the postgres
    image's first start runs init-roles.sh (the database, two logins), then the one-shot
    registry-init runs its command as the owner. Returns the shipped collector.yaml with the
    database's address and the volume's paths moved here."""
    environment = compose()["services"]["postgres"]["environment"]
    database = environment["POSTGRES_DB"]
    postgres.create_database(database)
    subprocess.run(
        ["sh", str(CENTRAL / "postgres" / "init-roles.sh")],
        env={
            **os.environ, "PATH": f"{postgres.bindir}:{os.environ['PATH']}",
            "PGHOST": postgres.host, "PGPORT": str(postgres.port), "PGPASSWORD": postgres.password,
            "POSTGRES_USER": SUPERUSER, "POSTGRES_DB": database,
            "RV_REGISTRY_OWNER_PASSWORD": OWNER_PASSWORD,
            "RV_REGISTRY_COLLECTOR_PASSWORD": COLLECTOR_PASSWORD,
        },
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    shipped = (CENTRAL / "collector" / "collector.yaml").read_text(encoding="utf-8")
    shipped = shipped.replace("@postgres:5432/", f"@{postgres.host}:{postgres.port}/")
    config = tmp_path / "collector.yaml"
    config.write_text(shipped.replace("/var/lib/retrofit-collector", str(tmp_path)))
    init = compose()["services"][REGISTRY_INIT]
    owner_env = {**CONFIG_ENV, "RV_REGISTRY_USER": "registry_owner"}
    owner_env["RV_REGISTRY_PASSWORD"] = OWNER_PASSWORD
    for _ in range(2):  # on every `up`: the second run changes nothing and succeeds
        done = subprocess.run(
            [str(ENTRY_POINT), *init["command"], "--config", str(config)],
            env={**os.environ, **owner_env}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"on {REGISTRY_TABLES} tables to collector" in done.stdout
    return config


def test_the_collector_login_reads_and_writes_rows_and_nothing_more(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    config = deployed_registry(postgres, tmp_path)
    settings = load_collector_config(
        config, env={**CONFIG_ENV, "RV_REGISTRY_PASSWORD": COLLECTOR_PASSWORD}
    ).registry
    with Registry(settings) as registry:
        registry.add_user("ops", display_name="运维", role="admin", by="setup")
        assert [entry.action for entry in registry.audit()] == ["user.add"]
    url = postgres.url("registry").replace(
        f"{SUPERUSER}:{postgres.password}@", f"collector:{COLLECTOR_PASSWORD}@"
    )
    for statement, refusal in (
        ("DROP TRIGGER audit_append_only ON audit", "must be owner"),
        ("ALTER TABLE audit DISABLE TRIGGER audit_append_only", "must be owner"),
        ("DELETE FROM audit", "audit is append-only"),
        ("TRUNCATE quarantine", "permission denied"),
        ("CREATE TABLE extra (x int)", "permission denied"),
    ):
        with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
            conn.execute(statement.encode())
        assert refusal in str(caught.value), statement


def test_the_web_service_starts_and_passes_its_own_healthcheck(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """The shipped collector.yaml and compose's command run the real app on the registry the
    stack makes; its healthcheck command (port moved to a free one, volume paths to a
    temporary folder, the database to a real local PostgreSQL) exits 0."""
    web = compose()["services"]["web"]
    container_port = str(serve_options(web["command"])["port"])
    port = str(free_port())
    config = deployed_registry(postgres, tmp_path)
    # compose's secret, generated as docs/operations.md says, where the shipped config finds it
    key = tmp_path / "bundle-signing.key"
    generate_key_pair(key, refusal="-")
    totp_key = tmp_path / "totp.key"
    write_totp_key(totp_key)
    deployed = config.read_text().replace("metrics_port: 9103", f"metrics_port: {free_port()}")
    deployed = deployed.replace("/run/secrets/totp-key", str(totp_key))
    config.write_text(deployed.replace("/run/secrets/bundle-signing-key", str(key)))
    command = [arg.replace("0.0.0.0", "127.0.0.1") for arg in web["command"]]  # noqa: S104
    command[command.index("--port") + 1] = port
    entry_point = ENTRY_POINT
    env = {**os.environ, **CONFIG_ENV, "RV_REGISTRY_PASSWORD": COLLECTOR_PASSWORD}
    test = [
        sys.executable if arg == "python" else arg.replace(f":{container_port}/", f":{port}/")
        for arg in web["healthcheck"]["test"][1:]
    ]

    def healthy() -> bool:
        return subprocess.run(test, capture_output=True, check=False).returncode == 0

    with ChildProcess(
        "serve", [str(entry_point), *command, "--config", str(config)], tmp_path / "serve.log",
        env=env,
    ) as process:  # fmt: skip
        assert not healthy()
        process.wait_until_ready(healthy, timeout_s=60)
    tables = postgres.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'audit'", "registry")
    assert tables == [["registry_owner"]]


def registry_init_options(command: list[str]) -> dict[str, Any]:
    """The options of compose's ``registry init`` command, parsed by the real CLI."""
    group = typer.main.get_command(collector_cli.app)
    assert isinstance(group, typer.core.TyperGroup)  # the app has subcommands
    parent = typer.Context(group, info_name="retrofit-collector")
    name, registry, rest = group.resolve_command(parent, command)
    assert name == "registry" and isinstance(registry, typer.core.TyperGroup)
    sub, init, args = registry.resolve_command(typer.Context(registry, parent=parent), rest)
    assert sub == "init" and init is not None
    with init.make_context(sub, args, parent=parent) as context:
        return dict(context.params)


def test_the_registry_is_made_by_its_owner_and_used_by_a_rows_only_login() -> None:
    services = compose()["services"]
    init = services[REGISTRY_INIT]
    granted = registry_init_options(init["command"])["grant"]
    assert init["environment"]["RV_REGISTRY_USER"] == "registry_owner"
    assert "RV_REGISTRY_OWNER_PASSWORD" in init["environment"]["RV_REGISTRY_PASSWORD"]
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("ingest-1", "ingest-2", "web"):
        depends = services[name]["depends_on"][REGISTRY_INIT]
        assert depends == {"condition": "service_completed_successfully"}, name
        environment = json.dumps(services[name]["environment"])
        assert "OWNER" not in environment and "RV_REGISTRY_USER" not in environment, name
    path = CENTRAL / "collector" / "collector.yaml"
    collector = load_collector_config(path, env=CONFIG_ENV).registry
    owner = load_collector_config(path, env={**CONFIG_ENV, "RV_REGISTRY_USER": "registry_owner"})
    assert collector.is_postgres and collector.url.startswith(f"postgresql://{granted}@postgres:")
    assert owner.registry.url.startswith("postgresql://registry_owner@postgres:5432/")
    database = services["postgres"]["environment"]["POSTGRES_DB"]
    assert collector.url.endswith(f":5432/{database}") and "ports" not in services["postgres"]
    script = (CENTRAL / "postgres" / "init-roles.sh").read_text(encoding="utf-8")
    assert f"CREATE ROLE {granted} LOGIN" in script and "CREATE ROLE registry_owner" in script
    mounts = services["postgres"]["volumes"]
    assert "./postgres/init-roles.sh:/docker-entrypoint-initdb.d/10-init-roles.sh:ro" in mounts
