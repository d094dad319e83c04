"""``users totp-key`` writes the key TOTP secrets are sealed with (mode 0600, never over an
existing one); ``serve`` refuses a key it cannot use before it opens anything; the registry
reseals a secret only if it is still the one read (both backends)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from collector.accounts import TotpSealer, hash_password, load_totp_key, needs_reseal
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


def test_totp_reseal_seals_plain_and_old_key_secrets_with_the_current_key(tmp_path: Path) -> None:
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    for path in (old, new):
        assert CliRunner().invoke(app, ["users", "totp-key", str(path)]).exit_code == 0
    registry_file = tmp_path / "registry.sqlite"
    with Registry(registry_file) as registry:
        for user in ("plain", "rotated", "fresh"):
            registry.add_user(user, display_name=user, role="reviewer", by="ops")
            registry.set_password(
                user, hash_password("p" * 16), must_change=False, why="set", by="o"
            )
        registry.set_totp("plain", "JBSWY3DPEHPK3PXP", step=1, by="plain")
        registry.set_totp("rotated", TotpSealer.from_files(old).seal("KRSXG5CTMVRXEZLU", "rotated"),
                          step=1, by="rotated")  # fmt: skip
    config = write_collector_config(tmp_path, registry_file)
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["web"] = {"totp_key_path": str(new), "totp_previous_key_paths": [str(old)]}
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    done = CliRunner().invoke(app, ["users", "totp-reseal", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "sealed 2 TOTP secrets" in done.output
    current = TotpSealer.from_files(new)
    with Registry(registry_file) as registry:
        for user, secret in (("plain", "JBSWY3DPEHPK3PXP"), ("rotated", "KRSXG5CTMVRXEZLU")):
            account = registry.account(user)
            assert account is not None and account.totp_secret is not None
            assert not needs_reseal(account.totp_secret, current)
            assert current.open(account.totp_secret, user) == secret
        fresh = registry.account("fresh")
        assert fresh is not None and fresh.totp_secret is None
    # Without the old key listed, a secret it sealed is named and the exit is 1.
    with Registry(registry_file) as registry:
        registry.set_totp("fresh", TotpSealer.from_files(old).seal("X", "fresh"), by="fresh")
    settings["web"] = {"totp_key_path": str(new)}
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    stuck = CliRunner().invoke(app, ["users", "totp-reseal", "--config", str(config)])
    assert stuck.exit_code == 1 and "fresh" in stuck.output and "not in web" in stuck.output
