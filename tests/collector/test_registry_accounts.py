"""People's logins in the registry, on both backends: passwords (sessions end when one
changes), TOTP steps used once, delays counted per key and shared, challenges, the audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.accounts import DelayRule, hash_password
from collector.errors import ConflictError, NotFoundError
from collector.registry import Registry

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
RULE = DelayRule(free=2, base_s=10.0, max_s=60.0, forget_s=600.0)


def _with_reviewer(location: Path | str) -> Registry:
    registry = Registry(location)
    registry.add_user("rev", display_name="审核员", role="reviewer", by="ops")
    return registry


def test_a_password_login_session_ends_when_the_password_changes(
    registry_location: Path | str,
) -> None:
    with _with_reviewer(registry_location) as registry:
        assert registry.account("rev") is None
        account = registry.set_password(
            "rev", hash_password("first long password"), must_change=True, why="set", by="ops"
        )
        assert account.must_change and not account.has_totp
        cookie, csrf = registry.open_password_session("rev", ttl_s=600, detail={"via": "form"})
        session = registry.session(cookie)
        assert session is not None and session.user.user_id == "rev" and session.csrf == csrf
        assert session.token.token_id == "password:rev"
        assert registry.authenticate("password:rev") is None  # never a bearer token
        registry.set_password(
            "rev", hash_password("second long password"), must_change=False, why="change",
            by="rev",
        )  # fmt: skip
        assert registry.session(cookie) is None
        actions = [entry.action for entry in registry.audit(subject="user:rev")]
        assert {"account.password_set", "auth.login", "account.password_change"} <= set(actions)


def test_unknown_and_disabled_users_get_no_password(registry_location: Path | str) -> None:
    with _with_reviewer(registry_location) as registry:
        with pytest.raises(NotFoundError, match="no user ghost"):
            registry.set_password("ghost", "x", must_change=False, why="set", by="ops")
        registry.disable_user("rev", by="ops", reason="left")
        with pytest.raises(ConflictError, match="disabled"):
            registry.set_password("rev", "x", must_change=False, why="reset", by="ops")


def test_a_totp_step_is_used_once(registry_location: Path | str) -> None:
    with _with_reviewer(registry_location) as registry:
        with pytest.raises(NotFoundError, match="no password login"):
            registry.set_totp("rev", "JBSWY3DPEHPK3PXP", step=5, by="rev")
        registry.set_password("rev", "h", must_change=False, why="set", by="ops")
        registry.set_totp("rev", "JBSWY3DPEHPK3PXP", step=5, by="rev")
        assert registry.account("rev").totp_last_step == 5  # type: ignore[union-attr]  # set above
        assert not registry.use_totp_step("rev", 5)
        assert registry.use_totp_step("rev", 6)
        assert not registry.use_totp_step("rev", 6)
        registry.set_totp("rev", None, by="ops", reason="phone lost")
        assert not registry.account("rev").has_totp  # type: ignore[union-attr]  # set above


def test_delays_grow_per_key_and_are_forgotten(registry_location: Path | str) -> None:
    keys = ["addr:192.0.2.7", "user:rev", "pair:rev|192.0.2.7"]
    with _with_reviewer(registry_location) as registry:
        for second in range(3):
            after = registry.record_password_failure(
                keys, RULE, subject="user:rev", detail={"address": "192.0.2.7"},
                now=T0 + dt.timedelta(seconds=second),
            )  # fmt: skip
        assert after["user:rev"] == T0 + dt.timedelta(seconds=2 + 10)
        moment = T0 + dt.timedelta(seconds=5)
        assert registry.login_waits([*keys, "addr:other"], RULE, now=moment) == {
            key: T0 + dt.timedelta(seconds=12) for key in keys
        }
        assert registry.login_failure_counts(keys, RULE, now=moment) == dict.fromkeys(keys, 3)
        registry.clear_login_failures(["pair:rev|192.0.2.7"])
        assert "pair:rev|192.0.2.7" not in registry.login_waits(keys, RULE, now=moment)
        assert registry.login_waits(keys, RULE, now=T0 + dt.timedelta(seconds=700)) == {}
        actions = [entry.action for entry in registry.audit(subject="user:rev")]
        assert actions.count("auth.failure") == 2 and actions.count("auth.lockout") == 1


def test_a_challenge_lives_until_it_expires_or_closes(registry_location: Path | str) -> None:
    with _with_reviewer(registry_location) as registry:
        ticket = registry.open_login_challenge("rev", "totp", ttl_s=60, now=T0)
        found = registry.login_challenge(ticket, now=T0 + dt.timedelta(seconds=59))
        assert found is not None and (found.user_id, found.kind) == ("rev", "totp")
        assert registry.login_challenge(ticket, now=T0 + dt.timedelta(seconds=60)) is None
        assert registry.login_challenge("x" * 43, now=T0) is None
        registry.close_login_challenge(ticket)
        assert registry.login_challenge(ticket, now=T0) is None
