"""The pages in real headless Chromium (Debian's ``chromium``, driven by playwright), against a
real ``retrofit-collector serve`` process: log in, open a province, a platform, an enterprise,
switch language, record a decision, find it in the audit log.

Screenshots of every step are kept in ``artifacts/web/`` (gitignored; CI keeps the folder as
its artefacts) and each must be a picture, not a blank page: the variance of its pixels'
brightness, computed by Chromium itself from the PNG, must be well above zero.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from stack import InfluxServer
from tests.collector.web.serving import ARTIFACTS, CHROMIUM, chromium, serving
from tests.collector.web.world import ON_BOTH_REGISTRIES, World

# Laptop and tablet (portrait) viewports.
VIEWPORTS: dict[str, ViewportSize] = {
    "laptop": {"width": 1366, "height": 900},
    "tablet": {"width": 820, "height": 1180},
}

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
    ON_BOTH_REGISTRIES,
]


@pytest.fixture(scope="module")
def server(
    world: World, influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``retrofit-collector serve`` on a free loopback port, on the tests' registry."""
    config = {
        "registry": str(world.registry_at),
        "broker": {"host": "127.0.0.1"},  # serve does not connect to it
        "influx": {"url": influx_server.url, "database": world.influx_database},
        "web": {
            "evidence_dir": str(world.settings.evidence_dir),
            "cookie_secure": False,  # plain HTTP on loopback
        },
    }
    with serving(tmp_path_factory.mktemp("serve"), config) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; playwright downloads nothing."""
    with chromium() as launched:
        yield launched


def _brightness_variance(page: Page, png: bytes) -> float:
    """Variance of the screenshot's pixel brightness (0-255 scale), computed in Chromium."""
    data = base64.b64encode(png).decode("ascii")
    script = """async (data) => {
        const image = new Image();
        image.src = "data:image/png;base64," + data;
        await image.decode();
        const canvas = new OffscreenCanvas(image.width, image.height);
        const context = canvas.getContext("2d");
        context.drawImage(image, 0, 0);
        const pixels = context.getImageData(0, 0, image.width, image.height).data;
        let sum = 0, squares = 0, count = 0;
        for (let i = 0; i < pixels.length; i += 4) {
            const y = 0.299 * pixels[i] + 0.587 * pixels[i + 1] + 0.114 * pixels[i + 2];
            sum += y; squares += y * y; count += 1;
        }
        const mean = sum / count;
        return squares / count - mean * mean;
    }"""
    scratch = page.context.new_page()
    try:
        return float(scratch.evaluate(script, data))
    finally:
        scratch.close()


def _shot(page: Page, name: str) -> float:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(full_page=True)
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    variance = _brightness_variance(page, png)
    assert variance > 50, f"{name}: the screenshot looks blank (variance {variance:.1f})"
    return variance


def _section_shot(page: Page, selector: str, name: str) -> float:
    """A screenshot of one section of the page, kept and checked as :func:`_shot` does."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.locator(selector).screenshot()
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    variance = _brightness_variance(page, png)
    assert variance > 50, f"{name}: the screenshot looks blank (variance {variance:.1f})"
    return variance


def _token_login(page: Page, token: str) -> None:
    """The login form's token way (the password form comes first; issue 21)."""
    page.get_by_text("改用访问令牌登录").click()  # opens the <details>
    page.get_by_label("访问令牌").fill(token)
    page.locator("#token-form").get_by_role("button", name="登录").click()


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
def test_a_reviewer_walks_from_login_to_the_audit_log(
    server: str, browser: Browser, world: World, device: str
) -> None:
    context = browser.new_context(
        viewport=VIEWPORTS[device],
        locale="zh-CN",
        extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )
    page = context.new_page()
    variances = {}
    try:
        page.goto(server + "/platforms/plat-a")
        expect(page).to_have_url(re.compile(r"/login\?next=/platforms/plat-a$"))
        _token_login(page, world.tokens["rev-nb"])
        expect(page).to_have_url(server + "/platforms/plat-a")
        page.goto(server + "/")
        expect(page).to_have_url(server + "/provinces/330200")  # a provincial reviewer's home
        expect(page.get_by_role("heading", level=1)).to_contain_text("浙江省宁波市")
        variances["province"] = _shot(page, f"{device}-1-province-zh")
        page.get_by_role("link", name="服务平台 plat-a").click()
        expect(page.get_by_role("cell", name=re.compile("宁波试点企业 e01"))).to_be_visible()
        variances["platform"] = _shot(page, f"{device}-2-platform-zh")
        page.get_by_role("link", name="宁波试点企业 e01").click()
        expect(page.get_by_role("heading", name="改造前后对比")).to_be_visible()
        expect(page.locator("svg").first).to_be_visible()  # the before/after chart
        # The day seals (#17): the section and the device-day whose seal differs (world.py).
        seals = page.locator("#day-seals")
        expect(seals.get_by_role("heading", name="日封存", exact=True)).to_be_visible()
        differing = seals.locator('tr[data-day="2026-06-03"]').filter(has_text="energy_kwh")
        expect(differing).to_be_visible()
        variances["enterprise"] = _shot(page, f"{device}-3-enterprise-zh")
        variances["day-seals"] = _section_shot(page, "#day-seals", f"{device}-3-day-seals-zh")
        page.locator("#lang-en").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Before and after")).to_be_visible()
        expect(page.get_by_role("heading", name="Day seals", exact=True)).to_be_visible()
        variances["enterprise-en"] = _shot(page, f"{device}-4-enterprise-en")
        comment = f"Browser test on a {device}: OEE change above target, flags reviewed."
        form = page.locator("#decision-form")
        form.get_by_label("Pass").check()
        form.get_by_label("Comment").fill(comment)
        form.get_by_role("button", name="Record decision").click()
        expect(page.get_by_role("status")).to_have_text("Decision recorded.")
        expect(page.get_by_text(comment)).to_be_visible()
        variances["decided"] = _shot(page, f"{device}-5-decided-en")
        page.get_by_role("link", name="Audit log").click()
        row = page.get_by_role("row").filter(has_text="decision.record").filter(has_text=comment)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("plat-a/e01")
        variances["audit"] = _shot(page, f"{device}-6-audit-en")
    finally:
        context.close()
    (ARTIFACTS / f"{device}-variances.json").write_text(json.dumps(variances, indent=1))


def test_a_reviewer_downloads_a_platform_workbook(
    server: str, browser: Browser, world: World, tmp_path: Path
) -> None:
    """The platform page's Excel link, clicked in Chromium with the session cookie: a file
    download (not a page), a workbook that opens, the enterprises of the JSON API."""
    from openpyxl import load_workbook

    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(server + "/login?next=/platforms/plat-a")
        _token_login(page, world.tokens["rev-nb"])
        expect(page).to_have_url(server + "/platforms/plat-a")
        with page.expect_download() as started:
            page.locator("a[data-export=xlsx]").click()
        download = started.value
        assert download.suggested_filename == "platform-plat-a.xlsx"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        expect(page).to_have_url(server + "/platforms/plat-a")  # the page stayed
    finally:
        context.close()
    sheet = load_workbook(saved).worksheets[0]
    ids = [str(c.value) for c in sheet["A"] if isinstance(c.value, str) and c.value[:1] == "e"]
    api = httpx.get(
        server + "/api/v1/platforms/plat-a/rollup", headers=world.headers("rev-nb"), timeout=10
    ).json()
    assert ids == [e["id"] for e in api["enterprises"]]
