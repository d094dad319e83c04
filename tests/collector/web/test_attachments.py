"""Enterprise files on the web app, in-process: upload (API raw body, page form), list,
download with its headers; HTML claiming PDF, an executable, a PDF with active content, a path
in the name, a body over the limit (refused while it is received) and the same bytes twice."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message

from collector.attachments import AttachmentSettings
from collector.web.app import FORM_OVERHEAD_BYTES, create_app
from tests.collector.attachments import hostile
from tests.collector.attachments.hostile import (
    escaped_javascript_pdf,
    javascript_in_object_stream_pdf,
    launch_pdf,
)
from tests.collector.attachments.samples import (
    HTML_AS_PDF,
    WINDOWS_EXE,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
)
from tests.collector.web.world import CONTRACT, CONTRACT_SHA256, ON_BOTH_REGISTRIES, World

pytestmark = ON_BOTH_REGISTRIES

API = "/api/v1/enterprises/"
SMALL = 4096


@pytest.fixture(scope="module")
def small(world: World) -> Iterator[TestClient]:
    """The app with attachments.max_bytes of 4 KiB."""
    app = create_app(
        world.settings, world.registry, attachments=AttachmentSettings(max_bytes=SMALL)
    )
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def _post(client: TestClient, world: World, enterprise: str, content: bytes, **params: str) -> Any:
    return client.post(
        f"{API}{enterprise}/attachments",
        params={"kind": "contract", "name": "合同.pdf", **params},
        content=content,
        headers={**world.headers("eng-a"), "content-type": "application/pdf"},
    )


def test_a_document_goes_in_once_and_comes_out_as_a_sandboxed_download(
    client: TestClient, world: World
) -> None:
    invoice = pdf_bytes("invoice 2026-001")
    sha256 = hashlib.sha256(invoice).hexdigest()
    added = _post(
        client, world, "e05", invoice, kind="invoice", name="发票 001.pdf", amount="300000"
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["sha256"] == sha256 and body["created"] is True
    assert (body["kind"], body["amount_fen"], body["attached_by"]) == (
        "invoice",
        30_000_000,
        "eng-a",
    )
    again = _post(client, world, "e05", invoice, kind="contract", name="again.pdf")
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["name"] == "发票 001.pdf"  # the first record stands
    listed = client.get(f"{API}e05/attachments", headers=world.headers("rev-nb")).json()
    assert [d["sha256"] for d in listed["documents"]] == [sha256]
    assert listed["invoiced_fen"] == 30_000_000 and listed["plan_cost_fen"] == 65_000_000
    assert listed["subsidy_cost_fen"] == 30_000_000 and listed["costs_differ"] is True
    for path in (f"{API}e05/attachments/{sha256}", f"/enterprises/e05/attachments/{sha256}"):
        got = client.get(path, headers=world.headers("rev-nb"))
        assert got.status_code == 200 and got.content == invoice
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == (
            "attachment; filename=\"001.pdf\"; filename*=UTF-8''" + quote("发票 001.pdf")
        )
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
    audit = client.get(
        "/api/v1/audit", params={"subject": "plat-a/e05"}, headers=world.headers("admin")
    )
    items = audit.json()["items"]  # newest first
    actions = [entry["action"] for entry in items]
    assert actions[:4] == [
        "attachment.download", "attachment.download", "attachment.duplicate", "attachment.add",
    ]  # fmt: skip
    page, api = items[0], items[1]
    assert page["actor"] == api["actor"] == "rev-nb"
    assert (page["detail"]["source"], api["detail"]["source"]) == (
        "page testclient",
        "api testclient",
    )
    assert page["detail"]["sha256"] == api["detail"]["sha256"] == sha256


def test_a_download_is_named_for_what_it_holds(client: TestClient, world: World) -> None:
    content = png_bytes(3, 3)
    assert _post(client, world, "e05", content, name="scan.html").status_code == 201
    sha256 = hashlib.sha256(content).hexdigest()
    got = client.get(f"{API}e05/attachments/{sha256}", headers=world.headers("eng-a"))
    assert got.headers["content-type"] == "image/png"
    assert 'filename="scan.html.png"' in got.headers["content-disposition"]


@pytest.mark.parametrize(
    ("content", "params", "status", "message"),
    [
        (HTML_AS_PDF, {}, 415, "by its first bytes it is HTML or XML"),
        (WINDOWS_EXE, {"name": "invoice.pdf"}, 415, "a Windows executable"),
        (pdf_bytes()[:-40], {}, 415, "no %%EOF"),
        (pdf_bytes(), {"name": "../../x.pdf"}, 422, "holds a path"),
        (pdf_bytes(), {"name": "C:\\fakepath\\x.pdf"}, 422, "holds a path"),
        (pdf_bytes(), {"name": "x\r\nSet-Cookie a=b.pdf"}, 422, "control or formatting"),
        (pdf_bytes(), {"kind": "invoice"}, 422, "an invoice needs the amount"),
        (pdf_bytes(), {"kind": "invoice", "amount": "12.5万元"}, 422, "no 万元"),
        (pdf_bytes(), {"kind": "photo"}, 422, "expected one of contract"),
        (b"", {}, 422, "empty"),
        (escaped_javascript_pdf(), {}, 422, "active content a reader could run: JavaScript"),
        (javascript_in_object_stream_pdf(), {}, 422, "JavaScript (object 7)"),
        (launch_pdf(), {}, 422, "a launch action"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: TestClient,
    world: World,
    content: bytes,
    params: dict[str, str],
    status: int,
    message: str,
) -> None:
    refused = _post(client, world, "e07", content, **params)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert message in refused.json()["detail"]
    assert (
        client.get(f"{API}e07/attachments", headers=world.headers("eng-a")).json()["documents"]
        == []
    )


def test_a_reviewer_may_read_but_not_attach(client: TestClient, world: World) -> None:
    refused = client.post(
        f"{API}e01/attachments",
        params={"kind": "contract", "name": "x.pdf"},
        content=pdf_bytes("reviewer"),
        headers=world.headers("rev-nb"),
    )
    assert refused.status_code == 403
    listed = client.get(f"{API}e01/attachments", headers=world.headers("rev-nb")).json()
    assert [d["sha256"] for d in listed["documents"]] == [CONTRACT_SHA256]
    missing = client.get(f"{API}e02/attachments/{CONTRACT_SHA256}", headers=world.headers("rev-nb"))
    assert missing.status_code == 404  # the contract is e01's, not e02's


def test_a_body_over_the_limit_is_413(small: TestClient, world: World) -> None:
    just_over = pdf_bytes() + b" " * (SMALL + 1 - len(pdf_bytes()))
    refused = _post(small, world, "e08", just_over)
    assert refused.status_code == 413 and "more than the limit of 4,096" in refused.json()["detail"]
    far_over = b"%PDF-1.7\n" + b"x" * (SMALL + FORM_OVERHEAD_BYTES)
    middleware = _post(small, world, "e08", far_over)
    assert middleware.status_code == 413 and middleware.json()["type"].endswith("/too-large")
    assert _post(small, world, "e08", pdf_bytes()).status_code == 201


def test_an_endless_upload_is_refused_while_it_is_received(small: TestClient, world: World) -> None:
    """A chunked body with no end: the app answers 413 after reading just past the limit,
    never waiting for the end (the ASGI app is called directly to count what it read)."""
    received = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    token = world.tokens["eng-a"].encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/enterprises/e08/attachments", "raw_path": b"",
        "query_string": b"kind=contract&name=x.pdf", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", b"Bearer " + token),
                    (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1234), "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(small.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert received <= (SMALL + FORM_OVERHEAD_BYTES) // 1024 + 1


def test_the_page_form_attaches_and_shows_a_refusal_beside_the_form(
    client: TestClient, world: World
) -> None:
    headers = world.headers("eng-a")
    jpeg = jpeg_bytes()
    done = client.post(
        "/enterprises/e09/attachments",
        data={"kind": "payment_proof", "amount": ""},
        files={"document": ("付款凭证.jpg", jpeg, "image/jpeg")},
        headers=headers,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/enterprises/e09?done=attached#documents-h"
    page = client.get("/enterprises/e09", headers=headers).text
    assert "付款凭证.jpg" in page and hashlib.sha256(jpeg).hexdigest() in page
    refused = client.post(
        "/enterprises/e09/attachments",
        data={"kind": "contract"},
        files={"document": ("contract.pdf", HTML_AS_PDF, "application/pdf")},
        headers=headers,
    )
    assert refused.status_code == 415
    assert "HTML or XML" in refused.text and 'id="attach-form"' in refused.text
    reviewer_page = client.get("/enterprises/e01", headers=world.headers("rev-nb")).text
    assert "改造合同.pdf" in reviewer_page and 'id="attach-form"' not in reviewer_page
    assert CONTRACT_SHA256[:16] in reviewer_page and len(CONTRACT) > 0


def test_a_decision_records_the_documents_the_reviewer_saw(
    client: TestClient, world: World
) -> None:
    bundle = world.bundles["e01"].bundle_id
    body = {"bundle_id": bundle, "outcome": "pass", "comment": "合同已核对"}
    api = client.post(
        f"{API}e01/decisions",
        json={**body, "documents": [CONTRACT_SHA256]},
        headers=world.headers("rev-nb"),
    )
    assert api.status_code == 201, api.text
    assert api.json()["documents"] == [CONTRACT_SHA256]
    foreign = client.post(
        f"{API}e02/decisions",
        json={**body, "bundle_id": world.bundles["e02"].bundle_id, "documents": [CONTRACT_SHA256]},
        headers=world.headers("rev-nb"),
    )
    assert (
        foreign.status_code == 422 and "not in the file of plat-a/e02" in foreign.json()["detail"]
    )
    page = client.get("/enterprises/e01", headers=world.headers("rev-nb")).text
    assert f'name="documents" value="{CONTRACT_SHA256}"' in page  # the form sends what it shows
    form = client.post(
        "/enterprises/e01/decisions",
        data={**body, "comment": "表单：合同已核对", "documents": [CONTRACT_SHA256]},
        headers=world.headers("rev-nb"),
        follow_redirects=False,
    )
    assert form.status_code == 303, form.text
    listed = client.get(f"{API}e01/decisions", headers=world.headers("obs-nb")).json()
    assert listed[-1]["comment"] == "表单：合同已核对"
    assert listed[-1]["documents"] == [CONTRACT_SHA256]


def test_a_withdrawn_document_is_marked_and_no_longer_counts(
    client: TestClient, world: World
) -> None:
    invoice = pdf_bytes("invoice to withdraw")
    sha256 = hashlib.sha256(invoice).hexdigest()
    added = _post(client, world, "e10", invoice, kind="invoice", name="i.pdf", amount="1000")
    assert added.status_code == 201
    refused = client.post(
        f"{API}e10/attachments/{sha256}/withdraw",
        json={"reason": "x"},
        headers=world.headers("rev-nb"),
    )
    assert refused.status_code == 403  # a reviewer judges the file, never changes it
    gone = client.post(
        f"{API}e10/attachments/{sha256}/withdraw",
        json={"reason": "amount mistyped"},
        headers=world.headers("eng-a"),
    )
    assert gone.status_code == 200, gone.text
    assert (gone.json()["withdraw_reason"], gone.json()["withdrawn_by"]) == (
        "amount mistyped",
        "eng-a",
    )
    listed = client.get(f"{API}e10/attachments", headers=world.headers("eng-a")).json()
    assert listed["invoiced_fen"] is None and listed["documents"][0]["withdrawn_at"] is not None
    again = client.post(
        f"{API}e10/attachments/{sha256}/withdraw",
        json={"reason": "twice"},
        headers=world.headers("eng-a"),
    )
    assert again.status_code == 404
    # The page's form: another document, withdrawn from its row.
    png = png_bytes(5, 5)
    assert _post(client, world, "e10", png, name="p.png").status_code == 201
    png_sha = hashlib.sha256(png).hexdigest()
    form = client.post(
        f"/enterprises/e10/attachments/{png_sha}/withdraw",
        data={"reason": "wrong file"},
        headers=world.headers("eng-a"),
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"].endswith(
        "done=withdrawn#documents-h"
    )
    page = client.get("/enterprises/e10", headers=world.headers("eng-a")).text
    assert page.count('class="withdrawn"') == 2 and "wrong file" in page
    assert (
        client.get(f"{API}e10/attachments/{png_sha}", headers=world.headers("eng-a")).content == png
    )


def _limited(world: World, address: str, *, per_user: int, per_source: int) -> TestClient:
    settings = AttachmentSettings(uploads_per_user=per_user, uploads_per_source=per_source)
    app = create_app(world.settings, world.registry, attachments=settings)
    # Its own client address: the counts of other tests (one session's registry) stay apart.
    return TestClient(app, base_url="http://testserver", client=(address, 50000))


def test_uploads_past_the_user_limit_get_429_with_retry_after(world: World) -> None:
    with _limited(world, "198.51.100.31", per_user=2, per_source=1000) as limited:
        answers = []
        for number in range(3):  # eng-b may have uploaded earlier in the session's hour
            got = limited.post(
                f"{API}b04/attachments",
                params={"kind": "contract", "name": f"c{number}.png"},
                content=png_bytes(2, 2, number),
                headers=world.headers("eng-b"),
            )
            answers.append(got)
            if got.status_code == 429:
                break
    refused = answers[-1]
    assert refused.status_code == 429, [a.status_code for a in answers]
    assert all(a.status_code in (200, 201) for a in answers[:-1])
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert "too many uploads by you (2 within 3600 s)" in body["detail"]
    assert body["retry_after_s"] == int(refused.headers["retry-after"])


def test_uploads_past_the_source_limit_hold_every_user_there(world: World) -> None:
    with _limited(world, "198.51.100.32", per_user=1000, per_source=2) as limited:
        statuses = []
        for user, content in (("eng-a", png_bytes(5, 1)), ("admin", png_bytes(5, 2))):
            got = limited.post(
                f"{API}e09/attachments",
                params={"kind": "contract", "name": "c.png"},
                content=content,
                headers=world.headers(user),
            )
            statuses.append(got.status_code)
        third = limited.post(
            f"{API}e09/attachments",
            params={"kind": "contract", "name": "c.png"},
            content=png_bytes(5, 3),
            headers=world.headers("eng-a"),
        )
    assert statuses == [201, 201]
    assert third.status_code == 429 and "from your address" in third.json()["detail"]
    listed = client_listing(world, "e09")
    assert hashlib.sha256(png_bytes(5, 3)).hexdigest() not in listed  # nothing stored
    assert hashlib.sha256(png_bytes(5, 1)).hexdigest() in listed


def client_listing(world: World, enterprise: str) -> list[str]:
    """The SHA-256 of every document in the enterprise's file, read from the registry."""
    return [item.sha256 for item in world.registry.attachments("plat-a", enterprise)]


def test_the_page_says_a_refusal_in_the_readers_language(client: TestClient, world: World) -> None:
    def attach(language: str, content: bytes) -> Any:
        return client.post(
            "/enterprises/e09/attachments",
            data={"kind": "contract"},
            files={"document": ("合同.pdf", content, "application/pdf")},
            headers={**world.headers("eng-a"), "accept-language": language},
        )

    zh = attach("zh-CN", escaped_javascript_pdf())
    assert zh.status_code == 422
    assert "PDF 含有阅读器可执行的活动内容" in zh.text and "JavaScript (object 6)" in zh.text
    en = attach("en", escaped_javascript_pdf())
    assert en.status_code == 422 and "活动内容" not in en.text
    assert "the PDF carries active content a reader could run: JavaScript (object 6)" in en.text
    unchecked = attach("zh-CN", hostile.deflate_bomb_pdf())
    assert unchecked.status_code == 422 and "无法检查该 PDF" in unchecked.text


def test_the_page_says_too_many_uploads_with_retry_after(world: World) -> None:
    with _limited(world, "198.51.100.33", per_user=1000, per_source=1) as limited:
        codes = []
        for shade in (7, 8):
            got = limited.post(
                "/enterprises/e10/attachments",
                data={"kind": "contract"},
                files={"document": ("p.png", png_bytes(4, 4, shade), "image/png")},
                headers={**world.headers("eng-a"), "accept-language": "zh-CN"},
                follow_redirects=False,
            )
            codes.append(got.status_code)
    assert codes == [303, 429]
    assert "上传过于频繁，请" in got.text and 'id="attach-form"' in got.text
    assert int(got.headers["retry-after"]) > 0
