"""``users password`` and ``users reset``: a temporary password printed once, its hash kept,
a change forced; refusals for unknown users and for a second ``password``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from collector.accounts import password_problems, verify_password
from collector.cli import app
from collector.registry import Registry
from tests.collector.config_helpers import write_collector_config


def test_password_then_reset_with_totp_removed(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    config = str(write_collector_config(tmp_path, db))
    with Registry(db) as registry:
        registry.add_user("rev", display_name="审核员", role="reviewer", by="ops")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--by", "ops", "--config", config])
        return result.exit_code, result.output

    code, output = run("users", "password", "rev")
    first = output.strip().splitlines()[-1]
    assert code == 0 and "shown once" in output
    assert password_problems(first, "rev") == []
    code, output = run("users", "password", "rev")
    assert code == 1 and "use users reset rev" in output
    code, output = run("users", "password", "ghost")
    assert code == 1 and "no user ghost" in output
    with Registry(db) as registry:
        registry.set_totp("rev", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", step=1, by="rev")
    code, output = run("users", "reset", "rev", "--remove-totp")
    second = output.strip().splitlines()[-1]
    assert code == 0 and "second factor removed" in output and second != first
    with Registry(db) as registry:
        account = registry.account("rev")
        assert account is not None and account.must_change and not account.has_totp
        assert verify_password(account.password_hash, second)
        assert not verify_password(account.password_hash, first)
        actions = {entry.action for entry in registry.audit(subject="user:rev")}
    assert {"account.password_set", "account.password_reset", "account.totp_remove"} <= actions
    listing = runner.invoke(app, ["users", "list", "--config", config])
    assert "password: to change at next login" in listing.output
