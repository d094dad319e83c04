"""The demo's web step: ``retrofit-collector serve`` with a demo reviewer, evidence through its
API, and a screenshot of an enterprise's page in headless Chromium.

The demo reviewer is a real user of the registry (role ``reviewer`` for the plan's province)
with a password login, as a person has: ``users password`` gives a temporary password, the
screenshot logs in with it in the login form and, as every first login must, chooses the
reviewer's own password (:func:`demo_password`), which the demo prints. A token is issued too:
the demo's script computes the evidence through the API with it, as scripts do. The evidence
the web app shows is computed by the web app itself (``POST
/api/v1/enterprises/{id}/evidence``), from the same registry and InfluxDB the bundles came from.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from sim.scenario import DemoEnterprise
from stack import ChildProcess

__all__ = [
    "DemoLogin",
    "add_demo_reviewer",
    "demo_password",
    "run_web_evidence",
    "screenshot_enterprise_page",
]

BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
#: FIELD-NOTES.md: headless Chromium as root on Debian.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
DEMO_USER = "demo-reviewer"


@dataclass(frozen=True)
class DemoLogin:
    """Where the web app listens, the demo reviewer, their token (the demo's API calls), the
    temporary password ``users password`` printed and the password they choose at the first
    login (:func:`demo_password`)."""

    url: str
    user: str
    token: str
    temporary_password: str
    password: str


def demo_password() -> str:
    """The password the demo reviewer chooses at the first login: 20 random characters in
    groups, as the temporary ones (it passes the policy: long, not common, not the name)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    text = "".join(secrets.choice(alphabet) for _ in range(20))
    return "-".join(text[i : i + 5] for i in range(0, 20, 5))


def add_demo_reviewer(config: Path, province: str) -> tuple[str, str]:
    """A reviewer for ``province``: (their token, their temporary password), each printed once
    by the CLI on its last line."""

    def users(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "retrofit-collector"), "users", *args, "--config", str(config)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"demo: users {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    users("add", DEMO_USER, "--name", "演示审核员 demo reviewer", "--role", "reviewer",
          "--province", province, "--by", "demo")  # fmt: skip
    issued = users("token", DEMO_USER, "--label", "demo", "--days", "30", "--by", "demo")
    temporary = users("password", DEMO_USER, "--by", "demo")
    # The token and the password each alone on the last line.
    return issued.strip().splitlines()[-1], temporary.strip().splitlines()[-1]


def wait_for_web(url: str, serve: ChildProcess, timeout_s: float = 60.0) -> None:
    """Until ``/healthz`` answers 200; SystemExit with the log if serve stops or never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if not serve.is_running:
            break
        time.sleep(0.2)
    raise SystemExit(f"demo: the web app did not start:\n{serve.log_tail()}")


def run_web_evidence(
    login: DemoLogin, enterprises: Sequence[DemoEnterprise], report: Callable[[str], None]
) -> dict[str, str]:
    """The web app computes each simulated enterprise's evidence; its verdict per enterprise."""
    verdicts: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {login.token}"}
    with httpx.Client(base_url=login.url, headers=headers, timeout=600) as client:
        for enterprise in enterprises:
            reply = client.post(f"/api/v1/enterprises/{enterprise.id}/evidence", json={})
            if reply.status_code not in (200, 201):
                raise SystemExit(
                    f"demo: web evidence for {enterprise.id}: {reply.status_code} {reply.text}"
                )
            body = reply.json()
            verdicts[enterprise.id] = str(body["status"])
            report(f"web app: evidence for {enterprise.id} stored ({verdicts[enterprise.id]})")
    return verdicts


def screenshot_enterprise_page(login: DemoLogin, enterprise: str, target: Path) -> Path | None:
    """Log in with the temporary password, choose ``login.password`` as the first login asks,
    and screenshot the enterprise page (playwright, Debian's Chromium)."""
    if not CHROMIUM.exists():
        return None
    from playwright.sync_api import sync_playwright

    target.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1366, "height": 1000},
                locale="zh-CN",
                extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
            )
            page = context.new_page()
            page.goto(f"{login.url}/login?next=/enterprises/{enterprise}")
            form = page.locator("#password-form")
            form.get_by_label("登录名").fill(login.user)
            form.get_by_label("密码").fill(login.temporary_password)
            form.get_by_role("button", name="登录").click()
            # A temporary password must be replaced at the first login: the reviewer's own.
            change = page.locator("#change-form")
            change.get_by_label("新密码", exact=True).fill(login.password)
            change.get_by_label("再次输入新密码").fill(login.password)
            change.get_by_role("button", name="保存密码").click()
            page.wait_for_url(f"{login.url}/enterprises/{enterprise}")
            page.wait_for_load_state("networkidle")
            target.write_bytes(page.screenshot(full_page=False))
        finally:
            browser.close()
    return target if target.stat().st_size > 0 else None
