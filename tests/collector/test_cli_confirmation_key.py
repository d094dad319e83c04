"""`retrofit-collector confirmation-key generate|show` and `ingest.confirmation_key_path` (#19)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import yaml

from collector.config import load_collector_config
from contract.keys import load_private_key, public_key_path
from contract.wire import public_key_text
from tests.collector.config_helpers import write_collector_config

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COLLECTOR, *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_generate_writes_a_key_and_prints_the_public_key_to_pin(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "confirmation.key"
    result = _run("confirmation-key", "generate", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = public_key_text(load_private_key(path, create_with="-").public_key())
    assert f"delivery.collector_keys: [{public}]" in result.stdout
    assert public_key_path(path).read_text().strip() == public
    shown = _run("confirmation-key", "show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert f"delivery.collector_keys: [{public}]" in shown.stdout
    again = _run("confirmation-key", "generate", str(path))
    assert again.returncode == 1
    assert "refusing to overwrite a confirmation key" in again.stderr


def test_the_config_names_the_key_relative_to_its_folder(tmp_path: Path) -> None:
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    values = yaml.safe_load(config.read_text())
    values["ingest"] = {"confirmation_key_path": "secrets/confirmation.key", "confirm_every_s": 2}
    config.write_text(yaml.safe_dump(values))
    loaded = load_collector_config(config)
    assert loaded.ingest.confirmation_key_path == tmp_path / "secrets" / "confirmation.key"
    settings = loaded.ingest_settings()
    assert settings.confirmation_key_path == str(tmp_path / "secrets" / "confirmation.key")
    assert settings.confirm_every_s == 2


def test_ingest_stops_before_connecting_when_the_key_cannot_be_used(tmp_path: Path) -> None:
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    values = yaml.safe_load(config.read_text())
    values["ingest"] = {"confirmation_key_path": "missing.key"}
    config.write_text(yaml.safe_dump(values))
    result = _run("ingest", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "ingest.confirmation_key_path" in result.stderr
    assert "retrofit-collector confirmation-key generate" in result.stderr
    assert "Traceback" not in result.stderr
