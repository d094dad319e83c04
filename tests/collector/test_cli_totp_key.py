"""``users totp-key`` writes the key TOTP secrets are sealed with (mode 0600, never over an
existing one); ``serve`` refuses a key it cannot use before it opens anything; the registry
reseals a secret only if it is still the one read (both backends)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from collector.accounts import hash_password, load_totp_key
from collector.cli import app
from collector.registry import Registry
from tests.collector.config_helpers import write_collector_config


def test_totp_key_is_written_0600_once(tmp_path: Path) -> None:
    path = tmp_path / "totp.key"
    made = CliRunner().invoke(app, ["users", "totp-key", str(path)])
    assert made.exit_code == 0, made.output
    assert "web.totp_key_path" in made.output and path.stat().st_mode & 0o777 == 0o600
    key = load_totp_key(path)
    again = CliRunner().invoke(app, ["users", "totp-key", str(path)])
    assert again.exit_code == 1 and "never overwritten" in again.output
    assert load_totp_key(path) == key


def test_serve_refuses_a_key_others_may_read(tmp_path: Path) -> None:
    key = tmp_path / "totp.key"
    assert CliRunner().invoke(app, ["users", "totp-key", str(key)]).exit_code == 0
    key.chmod(0o644)
    config = write_collector_config(tmp_path, tmp_path / "registry.sqlite")
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["web"] = {"totp_key_path": str(key), "evidence_dir": str(tmp_path / "ev")}
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    refused = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert refused.exit_code == 2, refused.output
    assert "web.totp_key_path" in refused.output and "chmod 600" in refused.output


def test_reseal_replaces_only_the_value_read(registry_location: Path | str) -> None:
    with Registry(registry_location) as registry:
        registry.add_user("rev", display_name="R", role="reviewer", by="ops")
        registry.set_password("rev", hash_password("x" * 16), must_change=False, why="set", by="o")
        registry.set_totp("rev", "JBSWY3DPEHPK3PXP", step=7, by="rev")
        assert not registry.reseal_totp("rev", "OTHER", "totp1:x:y")
        assert registry.reseal_totp("rev", "JBSWY3DPEHPK3PXP", "totp1:x:y")
        account = registry.account("rev")
        assert account is not None
        assert (account.totp_secret, account.totp_last_step) == ("totp1:x:y", 7)
        actions = [e.action for e in registry.audit(subject="user:rev")]
        assert actions.count("account.totp_reseal") == 1
