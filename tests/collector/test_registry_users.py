"""The registry's users, tokens, sessions and review decisions (collector/registry/users.py,
decisions.py): hashes at rest, revocation, append-only, audited. The tests taking ``registry``
run on SQLite and on PostgreSQL (tests/collector/registry_backends.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.errors import ConflictError, NotFoundError
from collector.registry import Registry
from tests.collector.config_helpers import write_collector_config
from tests.collector.registry_backends import (
    RAW_ERRORS,
    database_bytes,
    is_postgres,
    raw_execute,
)

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
SHA = "ab" * 32


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        opened.add_user(
            "li", display_name="李审核", role="reviewer", province="330200", by="ops", now=T0
        )
        yield opened


def test_a_token_is_stored_only_as_its_hash_and_proves_its_user(
    registry: Registry, registry_location: Path | str
) -> None:
    issued = registry.issue_token("li", label="laptop", by="ops", now=T0)
    found = registry.authenticate(issued.text, now=T0)
    assert found is not None and found[0].user_id == "li" and found[0].province == "330200"
    secret = issued.text.rsplit("_", 1)[1]
    raw = database_bytes(registry_location)
    assert issued.entry.token_id.encode() in raw  # the copy is readable: the check can fail
    assert secret.encode() not in raw
    # One character changed (a secret ending in "A" once made this the token itself: 1 in 64).
    tampered = issued.text[:-1] + ("B" if issued.text.endswith("A") else "A")
    assert registry.authenticate(tampered, now=T0) is None
    assert registry.authenticate("not a token", now=T0) is None


def test_revoking_a_token_or_disabling_a_user_ends_its_sessions(registry: Registry) -> None:
    first = registry.issue_token("li", label="a", by="ops", now=T0)
    second = registry.issue_token("li", label="b", by="ops", now=T0)
    cookie, csrf = registry.open_session(first.entry, ttl_s=3600, now=T0)
    session = registry.session(cookie, now=T0 + dt.timedelta(minutes=5))
    assert session is not None and session.csrf == csrf
    assert registry.session(cookie, now=T0 + dt.timedelta(hours=2)) is None  # expired
    registry.revoke_token(first.entry.token_id, by="ops", now=T0)
    assert registry.session(cookie, now=T0) is None
    assert registry.authenticate(first.text) is None
    assert registry.authenticate(second.text) is not None
    registry.disable_user("li", by="ops", reason="left the office")
    assert registry.authenticate(second.text) is None
    with pytest.raises(ConflictError):
        registry.issue_token("li", label="c", by="ops")


def test_an_expired_token_is_refused(registry: Registry) -> None:
    issued = registry.issue_token("li", label="week", by="ops", valid_days=7, now=T0)
    assert registry.authenticate(issued.text, now=T0 + dt.timedelta(days=6)) is not None
    assert registry.authenticate(issued.text, now=T0 + dt.timedelta(days=7)) is None


@pytest.mark.parametrize(
    "role,platform,province",
    [
        ("platform", None, None),
        ("platform", "plat-a", "330200"),
        ("admin", None, "330200"),
        ("reviewer", "plat-a", None),
        ("reviewer", None, "33"),
        ("auditor", None, None),
    ],
)
def test_a_scope_that_does_not_fit_the_role_is_refused(
    registry: Registry, role: str, platform: str | None, province: str | None
) -> None:
    with pytest.raises(ValueError):
        registry.add_user(
            "x", display_name="x", role=role, platform=platform, province=province, by="ops"
        )


def test_user_ids_are_never_reused_and_users_never_deleted(
    registry: Registry, registry_location: Path | str
) -> None:
    with pytest.raises(ConflictError):
        registry.add_user("li", display_name="again", role="observer", by="ops")
    statements = ["DELETE FROM users"]
    if is_postgres(registry_location):  # SQLite has no TRUNCATE
        statements += ["TRUNCATE users CASCADE", "DELETE FROM user_tokens"]
    for statement in statements:
        with pytest.raises(RAW_ERRORS, match="never deleted"):
            raw_execute(registry_location, statement)
    assert [u.user_id for u in registry.users()] == ["li"]


def test_decisions_are_append_only_and_audited(
    registry: Registry, registry_location: Path | str
) -> None:
    first = registry.record_decision(
        platform="plat-a",
        enterprise="e01",
        bundle_sha256=SHA,
        evidence_status="fail",
        outcome="rectify",
        comment="整改后复核",
        by="li",
        now=T0,
    )
    second = registry.record_decision(
        platform="plat-a",
        enterprise="e01",
        bundle_sha256=SHA,
        evidence_status="pass",
        outcome="pass",
        comment="复核通过",
        by="li",
        now=T0 + dt.timedelta(days=30),
    )
    assert second.supersedes == first.id
    assert [d.outcome for d in registry.decisions("plat-a", "e01")] == ["rectify", "pass"]
    assert registry.latest_decisions()[("plat-a", "e01")].id == second.id
    for statement in (
        "UPDATE review_decisions SET outcome = 'pass'",
        "DELETE FROM review_decisions",
    ):
        with pytest.raises(RAW_ERRORS, match="append-only"):
            raw_execute(registry_location, statement)
    actions = [(e.action, e.subject) for e in registry.audit()]
    assert actions.count(("decision.record", "plat-a/e01")) == 2
    assert ("user.add", "user:li") in actions


@pytest.mark.parametrize(
    "outcome,comment,bundle",
    [("approve", "ok", SHA), ("pass", "  ", SHA), ("pass", "x" * 4001, SHA), ("pass", "ok", "ab")],
)
def test_a_bad_decision_is_refused_and_nothing_is_written(
    registry: Registry, outcome: str, comment: str, bundle: str
) -> None:
    with pytest.raises(ValueError):
        registry.record_decision(
            platform="p",
            enterprise="e",
            bundle_sha256=bundle,
            evidence_status="pass",
            outcome=outcome,
            comment=comment,
            by="li",
        )
    assert registry.decisions("p", "e") == []


def test_a_version_1_registry_gains_the_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, at TEXT, actor TEXT, action TEXT, "
        "subject TEXT, detail TEXT)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Registry(path) as upgraded:
        upgraded.add_user("admin", display_name="运维", role="admin", by="ops")
        assert [u.user_id for u in upgraded.users()] == ["admin"]


def test_the_users_commands_add_issue_list_revoke(
    tmp_path: Path, registry_location: Path | str
) -> None:
    db = str(registry_location)
    config = str(write_collector_config(tmp_path, db))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", config])
        return result.exit_code, result.output

    assert (
        run(
            "users",
            "add",
            "eng-a",
            "--name",
            "平台工程师",
            "--role",
            "platform",
            "--platform",
            "plat-a",
            "--by",
            "ops",
        )[0]
        == 0
    )
    code, out = run("users", "token", "eng-a", "--label", "ci", "--days", "30", "--by", "ops")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("rvt_")
    code, out = run("users", "list")
    assert code == 0 and "eng-a" in out and token not in out
    token_id = token.split("_")[1]
    assert run("users", "revoke-token", token_id, "--by", "ops")[0] == 0
    code, out = run("users", "revoke-token", token_id, "--by", "ops")
    assert code == 1 and "already revoked" in out
    code, out = run("users", "add", "x", "--name", "x", "--role", "platform", "--by", "ops")
    assert code == 1 and "--platform" in out
    with Registry(db) as opened:
        with pytest.raises(NotFoundError):
            opened.revoke_token("000000000000", by="ops")
        assert opened.authenticate(token) is None
