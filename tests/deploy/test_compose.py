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
import pytest
import typer
import yaml

from collector import cli as collector_cli
from collector.config import load_collector_config
from collector.dashboards import load_dashboards
from contract.keys import generate_key_pair
from stack.ports import free_port
from stack.process import ChildProcess

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "deploy" / "central"
# Made by the documented first steps (docs/operations.md), never committed: the PKI and the
# broker's password file and ACL.
GENERATED = {"pki/ca.pem", "pki/broker.pem", "pki/broker.key", "mosquitto/passwd", "mosquitto/acl"}
#: The bundle signing key, made by `retrofit-collector bundle-key generate` (never committed).
GENERATED_SECRETS = {"secrets/bundle-signing.key"}


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


#: Runs once per `up` and ends; every other service stays up.
ONE_SHOT = "store-init"


def test_every_service_is_pinned_restarted_and_health_checked() -> None:
    services = compose()["services"]
    assert set(services) == {
        "mosquitto", "influxdb", "grafana", ONE_SHOT, "ingest-1", "ingest-2", "web"
    }  # fmt: skip
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        if name == ONE_SHOT:
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
    env = {"RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y"}
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=env)
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


def test_the_bundle_key_is_a_secret_of_the_web_service_only() -> None:
    document = compose()
    for name, secret in document["secrets"].items():
        relative = str((CENTRAL / secret["file"]).resolve().relative_to(CENTRAL))
        assert (CENTRAL / relative).exists() or relative in GENERATED_SECRETS, (name, relative)
    holders = {name for name, svc in document["services"].items() if svc.get("secrets")}
    assert holders == {"web"}  # the ingest replicas never sign anything
    env = {"RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y"}
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=env)
    (secret,) = document["services"]["web"]["secrets"]
    assert config.bundle.signing_key_path == Path("/run/secrets") / secret


def test_the_replicas_share_a_group_with_their_own_client_ids() -> None:
    services = compose()["services"]
    ids = [services[name]["command"][services[name]["command"].index("--client-id") + 1]
           for name in ("ingest-1", "ingest-2")]  # fmt: skip
    assert len(set(ids)) == 2
    env = {"RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y"}
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=env)
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
    assert set(web["depends_on"]) == {"influxdb", ONE_SHOT}  # serve never connects to the broker
    with pytest.raises(typer.TyperException, match="--listen"):
        serve_options(["serve", "--listen", "127.0.0.1"])  # an option serve lacks is refused
    with pytest.raises(typer.TyperException, match="integer"):
        serve_options(["serve", "--port", "http"])


def test_the_web_section_keeps_secure_cookies_and_bundles_on_the_volume() -> None:
    env = {"RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y"}
    config = load_collector_config(CENTRAL / "collector" / "collector.yaml", env=env)
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
    assert Path(config.registry.url).is_relative_to(volume)


def test_the_web_service_starts_and_passes_its_own_healthcheck(tmp_path: Path) -> None:
    """The shipped collector.yaml and compose's command run the real app; its healthcheck
    command (port moved to a free one, volume paths to a temporary folder) exits 0."""
    web = compose()["services"]["web"]
    container_port = str(serve_options(web["command"])["port"])
    port = str(free_port())
    shipped = (CENTRAL / "collector" / "collector.yaml").read_text(encoding="utf-8")
    config = tmp_path / "collector.yaml"
    shipped = shipped.replace("metrics_port: 9103", f"metrics_port: {free_port()}")
    # compose's secret, generated as docs/operations.md says, where the shipped config finds it
    key = tmp_path / "bundle-signing.key"
    generate_key_pair(key, refusal="-")
    shipped = shipped.replace("/run/secrets/bundle-signing-key", str(key))
    config.write_text(shipped.replace("/var/lib/retrofit-collector", str(tmp_path)))
    command = [arg.replace("0.0.0.0", "127.0.0.1") for arg in web["command"]]  # noqa: S104
    command[command.index("--port") + 1] = port
    entry_point = Path(sys.executable).parent / "retrofit-collector"
    env = {**os.environ, "RV_MQTT_PASSWORD": "x", "RV_INFLUX_PASSWORD": "y"}
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
    assert (tmp_path / "registry.sqlite").exists()
