"""Password logins through the real app: the form, wrong passwords, the growing delay (and
that it cannot lock a reviewer out from a clean source), the forced change after an
administrator's reset, TOTP enrolment and login, password change, the audit, and the app
under a path prefix. The app runs in-process on a registry of its own (not the shared world)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from collector.accounts import SEALED_PREFIX, hash_password, needs_rehash, totp_at, write_totp_key
from collector.cli import app as cli_app
from collector.registry import Registry
from collector.registry.core import utc_now
from collector.web.app import create_app
from collector.web.settings import WebSettings
from tests.collector.config_helpers import write_collector_config

PASSWORD = "a reviewer's long passphrase"
ATTACKER = ("192.0.2.66", 40000)
REVIEWER = ("198.51.100.7", 40000)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry with a reviewer who has a password and an observer with tokens only."""
    with Registry(tmp_path / "registry.sqlite") as opened:
        opened.add_user("rev", display_name="审核员", role="reviewer", by="ops")
        opened.add_user("obs", display_name="观察员", role="observer", by="ops")
        opened.set_password("rev", hash_password(PASSWORD), must_change=False, why="set", by="ops")
        yield opened


def _settings(tmp_path: Path, **changes: object) -> WebSettings:
    key = tmp_path / "totp.key"
    if not key.exists():
        write_totp_key(key)
    values: dict[str, object] = {
        "evidence_dir": tmp_path / "evidence",
        "totp_key_path": key,
        "cookie_secure": False,
        "allowed_hosts": ("testserver",),
        "login_delay_free": 2,
        "login_delay_base_s": 60.0,
        **changes,
    }
    return WebSettings.model_validate(values)


def _client(
    tmp_path: Path, registry: Registry, peer: tuple[str, int], **changes: object
) -> TestClient:
    app = create_app(_settings(tmp_path, **changes), registry)
    return TestClient(app, base_url="http://testserver", client=peer, follow_redirects=False)


def _login(client: TestClient, username: str, password: str, prefix: str = "") -> object:
    return client.post(
        f"{prefix}/login", data={"username": username, "password": password, "next": "/fleet"}
    )


def test_the_right_password_opens_a_session_and_is_audited(
    tmp_path: Path, registry: Registry
) -> None:
    with _client(tmp_path, registry, REVIEWER) as client:
        form = client.get("/login")
        assert 'name="username"' in form.text and 'name="token"' in form.text
        response = client.post(
            "/login", data={"username": "rev", "password": PASSWORD, "next": "/fleet"}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/fleet")
        assert "HttpOnly" in response.headers["set-cookie"]
        page = client.get("/account")
        assert page.status_code == 200 and "审核员" in page.text
        me = client.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["via"] == "session"
        logout = client.post("/logout", data={"csrf": _csrf(page.text)})
        assert logout.headers["location"] == "/login"
        assert client.get("/account").status_code == 303
    actions = [entry.action for entry in registry.audit(subject="user:rev")]
    assert "auth.login" in actions and "auth.logout" in actions


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None, "no CSRF field on the page"
    return match.group(1)


def test_wrong_password_and_unknown_name_get_the_same_answer(
    tmp_path: Path, registry: Registry
) -> None:
    with _client(tmp_path, registry, REVIEWER) as client:
        wrong = client.post("/login", data={"username": "rev", "password": "not it at all"})
        unknown = client.post("/login", data={"username": "nobody", "password": "not it at all"})
        tokens_only = client.post("/login", data={"username": "obs", "password": "not it at all"})
    for response in (wrong, unknown, tokens_only):
        assert response.status_code == 401
        assert (
            "Wrong login name or password" in response.text or "登录名或密码不正确" in response.text
        )
    failures = [e for e in registry.audit() if e.action in ("auth.failure", "auth.lockout")]
    named = {json.loads(entry.detail)["user_id"] for entry in failures}
    # An unknown name may be a password typed in the wrong field: only its digest is kept.
    assert "nobody" not in named and {"rev", "obs"} < named
    assert not any("nobody" in entry.detail or "nobody" in entry.subject for entry in failures)


def test_failures_slow_their_source_but_not_the_reviewer_elsewhere(
    tmp_path: Path, registry: Registry
) -> None:
    with _client(tmp_path, registry, ATTACKER) as attacker:
        answers = [_login(attacker, "rev", f"guess number {n}").status_code for n in range(3)]  # type: ignore[attr-defined]
        assert answers == [401, 401, 401]
        held = attacker.post("/login", data={"username": "rev", "password": PASSWORD})
        assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
        assert "Next attempt in" in held.text or "秒后再试" in held.text
    with _client(tmp_path, registry, REVIEWER) as reviewer:
        response = reviewer.post("/login", data={"username": "rev", "password": PASSWORD})
        assert response.status_code == 303, "a clean source is not held by the account's count"
    actions = [entry.action for entry in registry.audit(subject="user:rev")]
    assert actions.count("auth.lockout") == 1 and "auth.login" in actions


def test_a_source_that_failed_meets_the_accounts_delay(tmp_path: Path, registry: Registry) -> None:
    with _client(tmp_path, registry, ATTACKER) as attacker:
        for n in range(3):
            _login(attacker, "rev", f"guess number {n}")
    # Another source fails once: it is now subject to the account's delay (3 failures in).
    other = ("203.0.113.5", 40000)
    with _client(tmp_path, registry, other) as second:
        assert (
            second.post("/login", data={"username": "rev", "password": "wrong"}).status_code == 401
        )
        assert (
            second.post("/login", data={"username": "rev", "password": PASSWORD}).status_code == 429
        )


def test_an_administrators_reset_forces_a_new_password(tmp_path: Path, registry: Registry) -> None:
    config = write_collector_config(tmp_path, registry.path)
    result = CliRunner().invoke(
        cli_app, ["users", "reset", "rev", "--by", "ops", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    temporary = result.output.strip().splitlines()[-1]
    with _client(tmp_path, registry, REVIEWER) as client:
        assert _login(client, "rev", PASSWORD).status_code == 401  # type: ignore[attr-defined]
        step = client.post("/login", data={"username": "rev", "password": temporary})
        assert step.status_code == 200 and 'action="/login/change"' in step.text
        ticket = re.search(r'name="ticket" value="([^"]+)"', step.text).group(1)  # type: ignore[union-attr]
        weak = client.post(
            "/login/change",
            data={"ticket": ticket, "new_password": "rev", "repeat_password": "rev"},
        )
        assert weak.status_code == 422 and 'id="password-problems"' in weak.text
        done = client.post(
            "/login/change",
            data={
                "ticket": ticket,
                "new_password": "my own new passphrase",
                "repeat_password": "my own new passphrase",
            },
        )
        assert done.status_code == 303
        assert client.get("/account").status_code == 200
        reused = client.post(
            "/login/change",
            data={"ticket": ticket, "new_password": "x" * 20, "repeat_password": "x" * 20},
        )
        assert reused.status_code == 401, "a ticket is used once"
    actions = [entry.action for entry in registry.audit(subject="user:rev")]
    assert "account.password_reset" in actions and "account.password_change" in actions


def test_totp_enrolment_then_login_with_a_code_once(tmp_path: Path, registry: Registry) -> None:
    with _client(tmp_path, registry, REVIEWER) as client:
        _login(client, "rev", PASSWORD)
        page = client.get("/account")
        shown = client.post("/account/totp/start", data={"csrf": _csrf(page.text)})
        assert shown.status_code == 200 and 'src="data:image/png;base64,' in shown.text
        secret = re.search(r'name="secret" value="([A-Z2-7]{32})"', shown.text).group(1)  # type: ignore[union-attr]
        key = base64.b32decode(secret)
        wrong = client.post(
            "/account/totp",
            data={
                "csrf": _csrf(page.text),
                "secret": secret,
                "code": "000000" if totp_at(key, utc_now().timestamp()) != "000000" else "111111",
            },
        )
        assert wrong.status_code == 422
        enrolled = client.post(
            "/account/totp",
            data={
                "csrf": _csrf(page.text),
                "secret": secret,
                "code": totp_at(key, utc_now().timestamp()),
            },
        )
        assert enrolled.headers["location"] == "/account?done=totp"
        assert secret not in client.get("/account").text, "the secret is shown once"
        client.post("/logout", data={"csrf": _csrf(page.text)})
        step = client.post("/login", data={"username": "rev", "password": PASSWORD})
        assert 'action="/login/totp"' in step.text
        ticket = re.search(r'name="ticket" value="([^"]+)"', step.text).group(1)  # type: ignore[union-attr]
        replay = client.post(
            "/login/totp", data={"ticket": ticket, "code": totp_at(key, utc_now().timestamp())}
        )
        assert replay.status_code == 401, "the code used at enrolment is not accepted again"
        later = utc_now().timestamp() + 30  # the next step's code: within the one-step drift
        accepted = client.post("/login/totp", data={"ticket": ticket, "code": totp_at(key, later)})
        assert accepted.status_code == 303
    stored = registry.account("rev").totp_secret  # type: ignore[union-attr]
    assert stored is not None and stored.startswith(SEALED_PREFIX) and secret not in stored


def test_totp_is_not_enrolled_without_a_key_to_seal_it(tmp_path: Path, registry: Registry) -> None:
    with _client(tmp_path, registry, REVIEWER, totp_key_path=None) as client:
        _login(client, "rev", PASSWORD)
        page = client.get("/account")
        refused = client.post(
            "/account/totp/start",
            data={"csrf": _csrf(page.text)},
            headers={"accept-language": "en"},
        )
        assert refused.status_code == 409 and "web.totp_key_path" in refused.text
        sneaked = client.post(
            "/account/totp",
            data={"csrf": _csrf(page.text), "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
                  "code": "123456"},
        )  # fmt: skip
        assert sneaked.status_code == 409
    assert not registry.account("rev").has_totp  # type: ignore[union-attr]


def test_a_password_change_ends_the_other_sessions(tmp_path: Path, registry: Registry) -> None:
    with (
        _client(tmp_path, registry, REVIEWER) as first,
        _client(tmp_path, registry, REVIEWER) as second,
    ):
        _login(first, "rev", PASSWORD)
        _login(second, "rev", PASSWORD)
        page = first.get("/account")
        no_csrf = first.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "n" * 14,
                "repeat_password": "n" * 14,
            },
        )
        assert no_csrf.status_code == 403
        changed = first.post(
            "/account/password",
            data={
                "csrf": _csrf(page.text),
                "current_password": PASSWORD,
                "new_password": "another long passphrase",
                "repeat_password": "another long passphrase",
            },
        )
        assert changed.headers["location"] == "/account?done=password"
        assert first.get("/account").status_code == 200
        assert second.get("/account").status_code == 303


def test_under_a_path_prefix(tmp_path: Path, registry: Registry) -> None:
    with _client(tmp_path, registry, REVIEWER, root_path="/verify") as client:
        anonymous = client.get("/verify/fleet")
        assert anonymous.headers["location"] == "/verify/login?next=/fleet"
        form = client.get("/verify/login?next=/fleet")
        assert (
            'action="/verify/login"' in form.text and 'href="/verify/static/style.css"' in form.text
        )
        assert client.get("/verify/static/style.css").status_code == 200
        response = _login(client, "rev", PASSWORD, prefix="/verify")
        assert response.headers["location"] == "/verify/fleet"  # type: ignore[attr-defined]
        assert "Path=/verify" in response.headers["set-cookie"]  # type: ignore[attr-defined]
        page = client.get("/verify/fleet")
        assert page.status_code == 200 and 'href="/verify/account"' in page.text
        assert 'href="/"' not in page.text and 'action="/' not in page.text.replace(
            'action="/verify/', ""
        )
        # A proxy that strips the prefix reaches the same app, and its links still carry it.
        assert 'action="/verify/login"' in client.get("/login").text
        assert client.get("/verify/healthz").status_code == 200


def test_a_hash_with_older_parameters_is_renewed_at_login(
    tmp_path: Path, registry: Registry
) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    registry.set_password("rev", weak, must_change=False, why="set", by="ops")
    with _client(tmp_path, registry, REVIEWER) as client:
        assert _login(client, "rev", PASSWORD).status_code == 303  # type: ignore[attr-defined]
    renewed = registry.account("rev")
    assert renewed is not None and renewed.password_hash != weak
    assert not needs_rehash(renewed.password_hash)
    assert not registry.rehash_password("rev", weak, "stale"), "only over the hash it replaces"


def test_every_template_link_carries_the_prefix() -> None:
    """No template names a path of the app without ``{{ root }}`` before it."""
    folder = Path(__file__).parents[3] / "collector" / "web" / "templates"
    bare = {
        template.name: found
        for template in sorted(folder.glob("*.html"))
        if (found := re.findall(r'(?:href|action|src)="/', template.read_text("utf-8")))
    }
    assert bare == {}


def test_turning_totp_off_asks_for_the_password(tmp_path: Path, registry: Registry) -> None:
    registry.set_totp("rev", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", step=1, by="rev")
    key = base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    with _client(tmp_path, registry, REVIEWER) as client:
        step = client.post("/login", data={"username": "rev", "password": PASSWORD})
        ticket = re.search(r'name="ticket" value="([^"]+)"', step.text).group(1)  # type: ignore[union-attr]
        code = totp_at(key, utc_now().timestamp())
        assert client.post("/login/totp", data={"ticket": ticket, "code": code}).status_code == 303
        # Stored in clear before sealing: sealed at this first login with the key.
        resealed = registry.account("rev").totp_secret  # type: ignore[union-attr]
        assert resealed is not None and resealed.startswith(SEALED_PREFIX)
        assert "account.totp_reseal" in [e.action for e in registry.audit(subject="user:rev")]
        page = client.get("/account?done=<script>")
        assert "account.done_" not in page.text and 'id="totp-state"' in page.text
        wrong = client.post(
            "/account/totp/remove", data={"csrf": _csrf(page.text), "current_password": "nope"}
        )
        assert wrong.status_code == 422
        assert registry.account("rev").has_totp  # type: ignore[union-attr]
        done = client.post(
            "/account/totp/remove", data={"csrf": _csrf(page.text), "current_password": PASSWORD}
        )
        assert done.headers["location"] == "/account?done=totp_removed"
    assert not registry.account("rev").has_totp  # type: ignore[union-attr]
