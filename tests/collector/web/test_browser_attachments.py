"""An enterprise's file in real headless Chromium against a real ``retrofit-collector serve``:
a platform engineer attaches an invoice, is refused an HTML page called ``.pdf`` and a file
over the limit, attaches the same bytes again (nothing stored); a reviewer sees the document
beside the evidence, with the invoiced total against the plan's cost, and downloads it.

Screenshots go to ``artifacts/web/`` as in tests/collector/web/test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from stack import InfluxServer
from tests.collector.attachments.samples import HTML_AS_PDF, pdf_bytes
from tests.collector.web.serving import CHROMIUM, chromium, serving
from tests.collector.web.test_browser import _shot, _token_login
from tests.collector.web.world import World

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
#: attachments.max_bytes of the served app: small, so the browser can go over it.
MAX_BYTES = 16 * 1024


@pytest.fixture(scope="module")
def server(
    world: World, influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``retrofit-collector serve`` on a free loopback port, documents up to 16 KiB."""
    config = {
        "registry": str(world.registry_at),
        "broker": {"host": "127.0.0.1"},  # serve does not connect to it
        "influx": {"url": influx_server.url, "database": world.influx_database},
        "web": {
            "evidence_dir": str(world.settings.evidence_dir),
            "cookie_secure": False,  # plain HTTP on loopback
        },
        "attachments": {"max_bytes": MAX_BYTES},
    }
    with serving(tmp_path_factory.mktemp("serve-attachments"), config) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; playwright downloads nothing."""
    with chromium() as launched:
        yield launched


def _attach(page: Page, kind: str, name: str, content: bytes, amount: str = "") -> None:
    form = page.locator("#attach-form")
    form.locator("#attach-kind").select_option(kind)
    form.locator("#attach-amount").fill(amount)
    mime = "application/pdf" if name.endswith(".pdf") else "application/octet-stream"
    payload: FilePayload = {"name": name, "mimeType": mime, "buffer": content}
    form.locator("#attach-file").set_input_files(files=[payload])
    form.locator("button[type=submit]").click()


def test_an_engineer_attaches_and_a_reviewer_downloads(
    server: str, browser: Browser, world: World, tmp_path: Path
) -> None:
    invoice = pdf_bytes("invoice 2026-0042")
    engineer = browser.new_context(locale="zh-CN")
    page = engineer.new_page()
    try:
        page.goto(server + "/login?next=/enterprises/e06")
        _token_login(page, world.tokens["eng-a"])
        expect(page).to_have_url(server + "/enterprises/e06")
        page.locator("#lang-en").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        _attach(page, "invoice", "发票-0042.pdf", invoice, amount="300000.00")
        expect(page.get_by_role("status")).to_have_text("Document attached.")
        row = page.locator("table.document-list tr").filter(has_text="发票-0042.pdf")
        expect(row).to_contain_text("Invoice")
        expect(page.get_by_role("note")).to_have_text("Invoiced total differs from the plan's cost")
        _shot(page, "attachments-1-attached-en")
        _attach(page, "contract", "contract.pdf", HTML_AS_PDF)
        expect(page.get_by_role("alert")).to_contain_text("HTML or XML")
        _shot(page, "attachments-2-refused-html-en")
        page.goto(server + "/enterprises/e06")
        _attach(page, "contract", "big.pdf", pdf_bytes() + b" " * (MAX_BYTES + 1))
        expect(page.get_by_role("alert")).to_contain_text("more than the limit of 16,384")
        page.goto(server + "/enterprises/e06")
        _attach(page, "invoice", "again.pdf", invoice, amount="300000.00")
        expect(page.get_by_role("status")).to_have_text(
            "These bytes were already attached; nothing stored."
        )
        expect(page.locator("table.document-list tbody tr")).to_have_count(1)
    finally:
        engineer.close()
    reviewer = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = reviewer.new_page()
    try:
        page.goto(server + "/login?next=/enterprises/e06")
        _token_login(page, world.tokens["rev-nb"])
        expect(page).to_have_url(server + "/enterprises/e06")
        expect(page.locator("#attach-form")).to_have_count(0)  # a reviewer judges, not attaches
        expect(page.get_by_role("note")).to_have_text("发票合计与实施方案改造费用不一致")
        _shot(page, "attachments-3-reviewer-zh")
        with page.expect_download() as started:
            page.get_by_role("link", name="发票-0042.pdf").click()
        download = started.value
        assert download.suggested_filename == "发票-0042.pdf"
        saved = tmp_path / "downloaded.pdf"
        download.save_as(saved)
        assert saved.read_bytes() == invoice
        expect(page).to_have_url(server + "/enterprises/e06")  # a download, not a page
    finally:
        reviewer.close()
