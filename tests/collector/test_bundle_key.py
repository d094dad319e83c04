"""`retrofit-collector bundle-key generate|show` and `bundle.signing_key_path` in collector.yaml."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from collector.config import load_collector_config
from collector.proof import fingerprint
from contract.errors import ConfigInvalidError, KeyFileError
from contract.keys import load_private_key, public_key_path
from contract.wire import public_key_text
from tests.collector.config_helpers import write_collector_config

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COLLECTOR, "bundle-key", *args], capture_output=True, text=True, check=False, timeout=60
    )


def _printed(stdout: str) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in stdout.splitlines()[-2:])


def test_generate_writes_a_key_only_its_owner_reads_and_prints_its_fingerprint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "bundle.key"
    result = _run("generate", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_private_key(path, create_with="-")
    printed = _printed(result.stdout)
    assert printed["public"] == "key  " + public_key_text(key.public_key())
    assert printed["fingerprint"] == fingerprint(key.public_key())
    assert public_key_path(path).read_text().strip() == public_key_text(key.public_key())
    shown = _run("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert _printed(shown.stdout) == printed


def test_generate_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    path = tmp_path / "bundle.key"
    assert _run("generate", str(path)).returncode == 0
    before = path.read_bytes()
    result = _run("generate", str(path))
    assert result.returncode == 1
    assert "already exists; refusing to overwrite a bundle signing key" in result.stderr
    assert "bundle.signing_key_path" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before
    # Only the .pub left behind: still refused (the pair would no longer match).
    path.unlink()
    result = _run("generate", str(path))
    assert result.returncode == 1 and f"{public_key_path(path)} already exists" in result.stderr
    assert not path.exists()


def test_show_refuses_a_key_others_can_read_and_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "bundle.key"
    assert _run("generate", str(path)).returncode == 0
    path.chmod(0o644)
    result = _run("show", str(path))
    assert result.returncode == 2
    assert f"run: chmod 600 {path}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    missing = _run("show", str(tmp_path / "none.key"))
    assert missing.returncode == 2
    assert "retrofit-collector bundle-key generate" in " ".join(missing.stderr.split())


def test_a_key_the_collector_cannot_use_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "bundle.key"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key"):
        load_private_key(path, create_with="-")


def test_the_key_path_is_from_the_configuration_files_folder(tmp_path: Path) -> None:
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    assert load_collector_config(config).bundle.signing_key_path is None
    document = yaml.safe_load(config.read_text())
    document["bundle"] = {"signing_key_path": "secrets/bundle.key"}
    config.write_text(yaml.safe_dump(document))
    assert load_collector_config(config).bundle.signing_key_path == (
        tmp_path.absolute() / "secrets" / "bundle.key"
    )
    document["bundle"] = {"signing_key": "bundle.key"}
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigInvalidError, match=r"bundle\.signing_key: "):
        load_collector_config(config)


@pytest.mark.parametrize("command", [["serve"], ["evidence", "e-01"], ["rollup"]])
def test_the_commands_that_sign_stop_first_on_a_key_others_can_read(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "bundle.key"
    assert _run("generate", str(path)).returncode == 0
    path.chmod(0o640)
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    document = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**document, "bundle": {"signing_key_path": "bundle.key"}}))
    result = subprocess.run(
        [COLLECTOR, *command, "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert f"{config} bundle.signing_key_path: {path} is readable by group or others" in message
    assert f"(mode 640); run: chmod 600 {path}" in message and "Traceback" not in message
    # Nothing was started or written: not the registry, not a bundle.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bundle.key",
        "bundle.key.pub",
        "collector.yaml",
    ]
