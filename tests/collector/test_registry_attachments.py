"""Enterprise files in the registry, on both backends: documents stored once by SHA-256 with
who and when, the same bytes twice deduplicated, append-only, audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.attachments import Upload, checked_upload
from collector.errors import NotFoundError
from collector.plan import load_plan
from collector.registry import Decision, Registry, Withdrawal, invoiced_fen
from tests.collector.attachments.samples import jpeg_bytes, pdf_bytes, png_bytes
from tests.collector.registry_backends import RAW_ERRORS, raw_execute, raw_rows

VALID = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        opened.load_plan(load_plan(VALID), by="alice", now=T0)
        yield opened


def _upload(
    content: bytes, kind: str = "contract", name: str = "合同.pdf", amount: str | None = None
) -> Upload:
    return checked_upload(content, kind=kind, name=name, amount=amount, max_bytes=1 << 20)


def test_a_document_is_stored_with_who_and_when_and_read_back(registry: Registry) -> None:
    content = pdf_bytes("contract")
    result = registry.attach("plat-a-e01", _upload(content), by="eng-a", now=T0)
    item = result.attachment
    assert result.created
    assert (item.platform, item.enterprise, item.kind, item.name) == (
        "plat-a", "plat-a-e01", "contract", "合同.pdf",
    )  # fmt: skip
    assert item.sha256 == hashlib.sha256(content).hexdigest()
    assert (item.media_type, item.size, item.amount_fen) == ("application/pdf", len(content), None)
    assert (item.attached_by, item.attached_at) == ("eng-a", T0)
    assert registry.attachments("plat-a", "plat-a-e01") == [item]
    assert registry.attachment("plat-a", "plat-a-e01", item.sha256) == (item, content)
    assert registry.attachment("plat-a", "plat-a-e02", item.sha256) is None
    (entry,) = [e for e in registry.audit(subject="plat-a/plat-a-e01")]
    assert (entry.action, entry.actor) == ("attachment.add", "eng-a")
    detail = json.loads(entry.detail)
    assert detail["sha256"] == item.sha256 and detail["kind"] == "contract"


def test_the_same_bytes_twice_are_stored_once(
    registry: Registry, registry_location: Path | str
) -> None:
    content = png_bytes()
    first = registry.attach("plat-a-e01", _upload(content, "payment_proof", "付款.png"), by="a")
    again = registry.attach("plat-a-e01", _upload(content, "contract", "other.png"), by="b")
    assert not again.created
    assert again.attachment == first.attachment  # the first record, kind and name kept
    elsewhere = registry.attach("plat-a-e02", _upload(content, "payment_proof", "付款.png"), by="a")
    assert elsewhere.created and elsewhere.attachment.enterprise == "plat-a-e02"
    assert raw_rows(registry_location, "SELECT count(*) FROM attachment_blobs") == [(1,)]
    assert raw_rows(registry_location, "SELECT count(*) FROM attachments") == [(2,)]
    actions = [e.action for e in registry.audit(subject="plat-a/plat-a-e01")]
    assert actions == ["attachment.add", "attachment.duplicate"]


def test_the_invoiced_total_is_the_sum_of_the_invoices(registry: Registry) -> None:
    assert invoiced_fen(registry.attachments("plat-a", "plat-a-e01")) is None
    registry.attach("plat-a-e01", _upload(pdf_bytes("i1"), "invoice", "1.pdf", "100000.10"), by="a")
    registry.attach("plat-a-e01", _upload(jpeg_bytes(), "invoice", "2.jpg", "50000"), by="a")
    registry.attach("plat-a-e01", _upload(pdf_bytes("c"), "contract", "c.pdf"), by="a")
    assert invoiced_fen(registry.attachments("plat-a", "plat-a-e01")) == 15_000_010


def test_an_enterprise_no_plan_lists_gets_no_document(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="no loaded plan lists enterprise ghost"):
        registry.attach("ghost", _upload(pdf_bytes()), by="a")
    with pytest.raises(ValueError, match="who makes the change"):
        registry.attach("plat-a-e01", _upload(pdf_bytes()), by=" ")
    assert registry.attachments("plat-a", "plat-a-e01") == []


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE attachments SET name = 'forged.pdf'", "attachments"),
        ("DELETE FROM attachments", "attachments"),
        ("UPDATE attachment_blobs SET size_bytes = 1", "attachment_blobs"),
        ("DELETE FROM attachment_blobs", "attachment_blobs"),
    ],
)
def test_the_database_itself_keeps_documents_append_only(
    registry: Registry, registry_location: Path | str, statement: str, table: str
) -> None:
    registry.attach("plat-a-e01", _upload(pdf_bytes()), by="a")
    with pytest.raises(RAW_ERRORS, match=f"{table} is append-only"):
        raw_execute(registry_location, statement)
    assert len(registry.attachments("plat-a", "plat-a-e01")) == 1


def test_the_database_refuses_an_invoice_without_an_amount(
    registry: Registry, registry_location: Path | str
) -> None:
    item = registry.attach("plat-a-e01", _upload(pdf_bytes()), by="a").attachment
    with pytest.raises(RAW_ERRORS):
        raw_execute(
            registry_location,
            "INSERT INTO attachments (platform, enterprise, sha256, kind, name, amount_fen, "
            "attached_at, attached_by) VALUES ('plat-a', 'plat-a-e02', ?, 'invoice', 'x.pdf', "
            "NULL, '2026-06-01T08:00:00.000000Z', 'x')",
            params=[item.sha256],
        )


def _decide(registry: Registry, documents: list[str], comment: str = "看过合同与发票") -> Decision:
    return registry.record_decision(
        platform="plat-a", enterprise="plat-a-e01", bundle_sha256="a" * 64,
        evidence_status="pass", outcome="pass", comment=comment, by="rev", now=T0,
        documents=documents,
    )  # fmt: skip


def test_a_decision_records_the_documents_it_saw(
    registry: Registry, registry_location: Path | str
) -> None:
    contract = registry.attach("plat-a-e01", _upload(pdf_bytes("c")), by="eng").attachment
    invoice = registry.attach(
        "plat-a-e01", _upload(png_bytes(), "invoice", "i.png", "1000"), by="eng"
    ).attachment
    seen = sorted([contract.sha256, invoice.sha256])
    decision = _decide(registry, [invoice.sha256, contract.sha256, invoice.sha256])
    assert decision.documents == tuple(seen)
    blind = _decide(registry, [], comment="未看文件")
    assert [d.documents for d in registry.decisions("plat-a", "plat-a-e01")] == [tuple(seen), ()]
    assert registry.latest_decisions()[("plat-a", "plat-a-e01")] == blind
    entries = registry.audit(subject="plat-a/plat-a-e01")
    detail = json.loads(next(e for e in entries if e.action == "decision.record").detail)
    assert detail["documents"] == seen
    with pytest.raises(RAW_ERRORS, match="decision_documents is append-only"):
        raw_execute(registry_location, "DELETE FROM decision_documents")


def test_a_decision_may_cite_only_documents_of_the_enterprises_file(registry: Registry) -> None:
    other = registry.attach("plat-a-e02", _upload(pdf_bytes("e02")), by="eng").attachment
    with pytest.raises(ValueError, match="documents not in the file of plat-a/plat-a-e01"):
        _decide(registry, [other.sha256])
    with pytest.raises(ValueError, match="expected a SHA-256"):
        _decide(registry, ["not-a-hash"])
    assert registry.decisions("plat-a", "plat-a-e01") == []  # nothing written


def test_a_withdrawn_document_stays_marked_and_its_bytes_may_come_again(
    registry: Registry, registry_location: Path | str
) -> None:
    content = pdf_bytes("invoice with a typo")
    wrong = registry.attach("plat-a-e01", _upload(content, "invoice", "i.pdf", "1000"), by="eng")
    sha = wrong.attachment.sha256
    gone = registry.withdraw_attachment(
        "plat-a", "plat-a-e01", sha, reason="amount mistyped: 100000", by="eng", now=T0
    )
    assert gone.withdrawn == Withdrawal(reason="amount mistyped: 100000", at=T0, by="eng")
    assert invoiced_fen(registry.attachments("plat-a", "plat-a-e01")) is None
    again = registry.attach("plat-a-e01", _upload(content, "invoice", "i.pdf", "100000"), by="eng")
    assert again.created and again.attachment.id != gone.id
    listed = registry.attachments("plat-a", "plat-a-e01")
    assert [(a.amount_fen, a.withdrawn is None) for a in listed] == [
        (100_000, False),
        (10_000_000, True),
    ]
    assert invoiced_fen(listed) == 10_000_000
    assert registry.attachment("plat-a", "plat-a-e01", sha) == (again.attachment, content)
    actions = [e.action for e in registry.audit(subject="plat-a/plat-a-e01")]
    assert actions == ["attachment.add", "attachment.withdraw", "attachment.add"]
    with pytest.raises(RAW_ERRORS, match="attachment_withdrawals is append-only"):
        raw_execute(registry_location, "DELETE FROM attachment_withdrawals")


def test_only_a_document_in_force_is_withdrawn_and_a_reason_is_needed(registry: Registry) -> None:
    item = registry.attach("plat-a-e01", _upload(pdf_bytes("c")), by="eng").attachment
    with pytest.raises(ValueError, match="why the document is withdrawn"):
        registry.withdraw_attachment("plat-a", "plat-a-e01", item.sha256, reason=" ", by="eng")
    with pytest.raises(NotFoundError, match="no document"):
        registry.withdraw_attachment("plat-a", "plat-a-e02", item.sha256, reason="x", by="eng")
    registry.withdraw_attachment("plat-a", "plat-a-e01", item.sha256, reason="wrong file", by="eng")
    with pytest.raises(NotFoundError, match="in force"):
        registry.withdraw_attachment("plat-a", "plat-a-e01", item.sha256, reason="x", by="eng")
    with pytest.raises(ValueError, match="has not withdrawn"):
        _decide(registry, [item.sha256])


def test_a_download_is_audited_in_the_transaction_that_reads_it(registry: Registry) -> None:
    content = pdf_bytes("contract to read")
    item = registry.attach("plat-a-e01", _upload(content), by="eng-a", now=T0).attachment
    later = T0 + dt.timedelta(hours=1)
    got = registry.download_attachment(
        "plat-a", "plat-a-e01", item.sha256, by="rev-1", source="api 203.0.113.7", now=later
    )
    assert got == (item, content)
    entry = registry.audit(subject="plat-a/plat-a-e01")[-1]
    assert (entry.action, entry.actor, entry.at) == ("attachment.download", "rev-1", later)
    detail = json.loads(entry.detail)
    assert (detail["sha256"], detail["source"], detail["attachment"]) == (
        item.sha256, "api 203.0.113.7", item.id,
    )  # fmt: skip
    # Not in this enterprise's file: nothing read, nothing audited.
    assert (
        registry.download_attachment(
            "plat-a", "plat-a-e02", item.sha256, by="rev-1", source="api 203.0.113.7"
        )
        is None
    )
    assert [e.action for e in registry.audit(subject="plat-a/plat-a-e02")] == []
    with pytest.raises(ValueError, match="who makes the change"):
        registry.download_attachment("plat-a", "plat-a-e01", item.sha256, by=" ", source="x")
