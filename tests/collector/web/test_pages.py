"""Pages: login and session cookie, CSRF on forms, both languages, errors as pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from collector.web.access import RULES
from collector.web.i18n import CATALOGUE
from tests.collector.web.world import ROLES_USERS, World

# A catalogue key left untranslated ("col.verdict"); file names like evidence.json are not keys.
_PREFIXES = "|".join(sorted({key.split(".")[0] for key in CATALOGUE}))
_CODE = re.compile(r"<code>.*?</code>", re.S)
_KEY = re.compile(rf"\b(?:{_PREFIXES})\.(?!jsonl?\b|html\b|pdf\b)[a-z_]+\b")


def _login(client: TestClient, world: World, user: str) -> str:
    """Log in through the form; return the CSRF token of the session."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"token": world.tokens[user], "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "rv_session=" in cookie
    page = client.get("/enterprises/e01")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_a_page_without_a_session_goes_to_the_login_form(client: TestClient) -> None:
    client.cookies.clear()
    response = client.get("/platforms/plat-a", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/platforms/plat-a"


def test_a_wrong_token_is_refused_on_the_form(client: TestClient) -> None:
    client.cookies.clear()
    response = client.post("/login", data={"token": "rvt_000000000000_" + "A" * 43})
    assert response.status_code == 401 and 'role="alert"' in response.text


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_page_renders_in_both_languages_without_missing_words(
    client: TestClient, world: World, language: str
) -> None:
    _login(client, world, "rev-cn")
    bundle = world.bundles["e01"].bundle_id
    for path in (
        "/",
        "/provinces/330200",
        "/platforms/plat-a",
        "/enterprises/e01",
        f"/enterprises/e01?bundle={bundle}",
        "/enterprises/e03",
        "/fleet",
        "/quarantine",
        "/audit",
        "/provinces/999999",
    ):
        response = client.get(path, params={"lang": language})
        assert response.status_code in (200, 404), (path, response.status_code)
        assert f'<html lang="{language}">' in response.text
        words = _CODE.sub("", response.text)  # codes (audit actions like decision.record)
        assert _KEY.findall(words) == [], (path, _KEY.findall(words)[:5])
    assert client.cookies.get("rv_lang") == language


def test_accept_language_chooses_until_the_switch_is_used(client: TestClient, world: World) -> None:
    _login(client, world, "admin")
    client.cookies.delete("rv_lang")
    english = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in english.text
    chinese = client.get("/", headers={"Accept-Language": "zh-TW,en;q=0.3"})
    assert '<html lang="zh-CN">' in chinese.text and "各省试点总览" in chinese.text


def test_a_decision_form_needs_the_csrf_token(client: TestClient, world: World) -> None:
    csrf = _login(client, world, "rev-nb")
    form = {
        "bundle_id": world.bundles["e01"].bundle_id,
        "outcome": "pass",
        # A bidi override (U+202E) would show what follows it reversed: the page names it.
        "comment": "数据充分，OEE 提升 7.1 个百分点，区间在目标之上\u202e",
    }
    refused = client.post("/enterprises/e01/decisions", data=form, follow_redirects=False)
    assert refused.status_code == 403
    other_site = client.post(
        "/enterprises/e01/decisions",
        data={**form, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert other_site.status_code == 403
    done = client.post(
        "/enterprises/e01/decisions", data={**form, "csrf": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and "done=decision" in done.headers["location"]
    page = client.get(done.headers["location"])
    assert "数据充分" in page.text
    assert "区间在目标之上⟨U+202E⟩" in page.text and "\u202e" not in page.text


def test_a_refused_form_shows_why_on_the_page(client: TestClient, world: World) -> None:
    csrf = _login(client, world, "rev-nb")
    form = {
        "bundle_id": world.bundles["e01"].bundle_id,
        "outcome": "maybe",
        "comment": "",
        "csrf": csrf,
    }
    response = client.post("/enterprises/e01/decisions", data=form)
    assert response.status_code == 422 and 'class="error" role="alert"' in response.text


def test_logout_ends_the_session_on_the_server(client: TestClient, world: World) -> None:
    csrf = _login(client, world, "obs-nb")
    cookie = client.cookies.get("rv_session")
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("rv_session", cookie or "")
    assert client.get("/fleet", follow_redirects=False).status_code == 303  # back to login


def test_the_api_with_a_session_cookie_needs_the_csrf_header(
    client: TestClient, world: World
) -> None:
    csrf = _login(client, world, "rev-nb")
    body = {"bundle_id": world.bundles["e02"].bundle_id, "outcome": "fail", "comment": "复核"}
    assert client.post("/api/v1/enterprises/e02/decisions", json=body).status_code == 403
    with_header = client.post(
        "/api/v1/enterprises/e02/decisions", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert with_header.status_code == 201


def test_pages_send_security_headers(client: TestClient, world: World) -> None:
    _login(client, world, "admin")
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_no_stack_trace_reaches_a_client(client: TestClient, world: World) -> None:
    response = client.get(
        "/api/v1/enterprises/e01/kpis/oee",
        params={"from": "not-a-date"},
        headers=world.headers("admin"),
    )
    assert response.status_code == 422
    assert "Traceback" not in response.text and 'File "' not in response.text


@pytest.mark.parametrize("user", ["admin", "eng-a", "rev-nb", "rev-cn", "obs-nb"])
def test_the_enterprise_page_offers_the_forms_the_access_table_allows(
    client: TestClient, world: World, user: str
) -> None:
    # Who sees a form is access.RULES' answer for the route the form posts to.
    client.cookies.clear()
    page = client.get("/enterprises/e01", headers=world.headers(user))
    assert page.status_code == 200, page.text
    role = ROLES_USERS[user][0]
    decide = 'action="/enterprises/e01/decisions"' in page.text
    run = 'action="/enterprises/e01/evidence"' in page.text
    assert decide == (role in RULES["page.decide"])
    assert run == (role in RULES["page.run_evidence"])


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-CN", ("日封存", "与日封存不一致的设备日", "已封存，不一致", "未封存，已逾期")),
        ("en", ("Day seals", "Device-days that differ from their seal", "Unsealed, overdue")),
    ],
)
def test_the_enterprise_page_names_a_sealed_and_different_device_day_and_its_field(
    client: TestClient, world: World, language: str, words: tuple[str, ...]
) -> None:
    # world.py: e01-gw sealed 06-03 of press-1 with more energy than was stored (checked by
    # the ingest's own check), left 03-04 unsealed, and sealed four days as stored.
    _login(client, world, "rev-nb")
    page = client.get("/enterprises/e01", params={"lang": language}).text
    section = page[
        page.index('id="day-seals"') : page.index("</section>", page.index('id="day-seals"'))
    ]
    assert all(word in section for word in words), language
    row = re.search(r'<tr data-day="2026-06-03" data-device="press-1">(.*?)</tr>', section, re.S)
    assert row is not None, section
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[:4] == ["2026-06-03", "press-1", "e01-gw", "measured"]
    fields = re.findall(r'data-day="2026-06-03"[^>]*>.*?<code>(\w+)</code>', section, re.S)
    assert "energy_kwh" in fields and "merkle_root" in fields
    counts = dict(re.findall(r'data-period="(\w+)">.*?data-count="equal">(\d+)<', section, re.S))
    assert counts == {"baseline": "2", "between": "0", "reporting": "2"}
    assert re.search(r'data-period="baseline">.*?data-count="unsealed_overdue">'
                     r'<span class="badge severity-warning">1</span>', section, re.S)  # fmt: skip


def test_the_fleet_page_counts_an_agents_seals_behind(client: TestClient, world: World) -> None:
    _login(client, world, "admin")
    page = client.get("/fleet", params={"lang": "en", "limit": 200}).text
    assert "Seals behind (device-days)" in page
    behind = dict(re.findall(r'data-seals-behind="([\w-]+)">(.*?)</td>', page, re.S))
    assert behind["e01-gw"] == '<span class="badge severity-warning">1</span>'  # 03-04
    assert behind["b01-gw"] == "0"
