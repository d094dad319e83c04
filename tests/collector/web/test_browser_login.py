"""Logging in as a person, in real headless Chromium against a real ``retrofit-collector
serve`` behind a path prefix (``web.root_path: /verify``): a wrong password, the slowing after
failures (and a reviewer elsewhere who is not slowed), a forced new password after an
administrator's reset, TOTP enrolment and login, logout.

The server trusts 127.0.0.1 as its reverse proxy, so each browser context says where it is
with ``X-Forwarded-For``, as the proxy would: the attacker and the reviewer are two sources.
The server runs on a registry of its own (no plans: the pages are empty; the login is not).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from typer.testing import CliRunner

from collector.accounts import hash_password, totp_at, write_totp_key
from collector.cli import app as cli_app
from collector.registry import Registry
from stack.ports import free_port
from tests.collector.web.serving import ARTIFACTS, CHROMIUM, chromium, serving

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

PREFIX = "/verify"
PASSWORDS = {"alice": "alice's long passphrase", "bob": "bob's long passphrase"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(the app's URL with its prefix, its configuration file)."""
    folder = tmp_path_factory.mktemp("serve-login")
    registry_path = folder / "registry.sqlite"
    with Registry(registry_path) as registry:
        for user_id, password in PASSWORDS.items():
            registry.add_user(user_id, display_name=user_id.title(), role="reviewer", by="ops")
            registry.set_password(
                user_id, hash_password(password), must_change=False, why="set", by="ops"
            )
        registry.add_user("carol", display_name="Carol", role="reviewer", by="ops")
    write_totp_key(folder / "totp.key")
    config = {
        "registry": str(registry_path),
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": f"http://127.0.0.1:{free_port()}", "database": "rv"},  # not needed
        "web": {
            "evidence_dir": str(folder / "evidence"),
            "cookie_secure": False,  # plain HTTP on loopback
            "root_path": PREFIX,
            "trusted_proxies": ["127.0.0.1/32"],
            "login_delay_free": 2,
            "login_delay_base_s": 120,
            "totp_key_path": str(folder / "totp.key"),
        },
    }
    with serving(folder, config) as base:
        yield base, folder / "collector.yaml"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with chromium() as launched:
        yield launched


def _context(browser: Browser, source: str) -> BrowserContext:
    return browser.new_context(
        locale="en-GB",
        extra_http_headers={"Accept-Language": "en", "X-Forwarded-For": source},
    )


def _log_in(page: Page, user: str, password: str) -> None:
    form = page.locator("#password-form")
    form.get_by_label("Login name").fill(user)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Log in").click()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"login-{name}.png"), full_page=True)


def test_wrong_password_slows_the_source_not_the_reviewer(
    served: tuple[str, Path], browser: Browser
) -> None:
    base, _ = served
    attacker = _context(browser, "192.0.2.66")
    reviewer = _context(browser, "198.51.100.7")
    try:
        page = attacker.new_page()
        page.goto(base + "/fleet")
        expect(page).to_have_url(base + "/login?next=/fleet")
        for guess in ("first guess 1", "second guess 2"):
            _log_in(page, "alice", guess)
            expect(page.locator("#login-error")).to_have_text("Wrong login name or password.")
        _log_in(page, "alice", "third guess 3")
        expect(page.locator("#login-error")).to_contain_text("Next attempt in")
        _shot(page, "slowed")
        _log_in(page, "alice", PASSWORDS["alice"])  # even the right one waits now
        expect(page.locator("#login-error")).to_contain_text("Too many failed attempts")
        mine = reviewer.new_page()
        mine.goto(base + "/login?next=/fleet")
        _log_in(mine, "alice", PASSWORDS["alice"])
        expect(mine).to_have_url(base + "/fleet")
        expect(mine.get_by_text("Signed in as")).to_be_visible()
        mine.get_by_role("button", name="Log out").click()
        expect(mine).to_have_url(base + "/login")
        mine.goto(base + "/fleet")
        expect(mine).to_have_url(base + "/login?next=/fleet")
    finally:
        attacker.close()
        reviewer.close()


def test_a_reset_password_must_be_changed_at_login(
    served: tuple[str, Path], browser: Browser
) -> None:
    base, config = served
    result = CliRunner().invoke(
        cli_app, ["users", "password", "carol", "--by", "ops", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    temporary = result.output.strip().splitlines()[-1]
    context = _context(browser, "198.51.100.8")
    try:
        page = context.new_page()
        page.goto(base + "/login")
        _log_in(page, "carol", temporary)
        expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        page.get_by_label("New password", exact=True).fill("Password1234")
        page.get_by_label("New password again").fill("Password1234")
        page.get_by_role("button", name="Save password").click()
        expect(page.locator("#password-problems")).to_contain_text("everyone tries first")
        _shot(page, "change-refused")
        page.get_by_label("New password", exact=True).fill("carol's own passphrase")
        page.get_by_label("New password again").fill("carol's own passphrase")
        page.get_by_role("button", name="Save password").click()
        expect(page).to_have_url(base + "/")
        expect(page.get_by_text("Signed in as")).to_be_visible()
    finally:
        context.close()


def _code(secret_text: str, offset_s: float = 0.0) -> str:
    key = base64.b32decode(secret_text.replace(" ", ""))
    return totp_at(key, time.time() + offset_s)


def test_totp_enrolment_then_login_with_the_code(
    served: tuple[str, Path], browser: Browser
) -> None:
    base, _ = served
    context = _context(browser, "198.51.100.9")
    try:
        page = context.new_page()
        page.goto(base + "/login")
        _log_in(page, "bob", PASSWORDS["bob"])
        page.get_by_role("link", name="My account").click()
        expect(page).to_have_url(base + "/account")
        page.get_by_role("button", name="Turn on the second factor").click()
        qr = page.locator("#totp-qr")
        expect(qr).to_be_visible()
        assert qr.evaluate("img => img.naturalWidth") > 100, "the QR code did not load"
        _shot(page, "totp-enrol")
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("6-digit code").fill(_code(secret))
        page.get_by_role("button", name="Confirm and turn on").click()
        expect(page.locator("#account-done")).to_have_text("The second factor is on.")
        expect(page.locator("#totp-secret")).to_have_count(0)
        page.get_by_role("button", name="Log out").click()
        _log_in(page, "bob", PASSWORDS["bob"])
        expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
        page.get_by_label("6-digit code").fill(
            "000000" if _code(secret, 30) != "000000" else "111111"
        )
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#login-error")).to_contain_text("The code is wrong")
        page.get_by_label("6-digit code").fill(_code(secret, 30))  # the next step's: not used yet
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(base + "/")
        expect(page.get_by_text("Signed in as")).to_be_visible()
        _shot(page, "totp-in")
    finally:
        context.close()
