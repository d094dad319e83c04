"""A document's type is its content's: PDF, PNG, JPEG by magic bytes and a minimal structure;
HTML, SVG, executables and damaged files refused, whatever the name says."""

from __future__ import annotations

import hashlib

import pytest

from collector.attachments import AttachmentRefused, checked_upload, media_type_of
from tests.collector.attachments.samples import (
    HTML_AS_PDF,
    SVG,
    WINDOWS_EXE,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (pdf_bytes(), "application/pdf"),
        (png_bytes(), "image/png"),
        (jpeg_bytes(), "image/jpeg"),
        (b"%PDF-2.0\n" + b"x" * 5000 + b"\n%%EOF\r\n", "application/pdf"),
    ],
)
def test_pdf_png_and_jpeg_are_known_by_their_bytes(content: bytes, expected: str) -> None:
    assert media_type_of(content) == expected


@pytest.mark.parametrize(
    ("content", "looks_like"),
    [
        (HTML_AS_PDF, "HTML or XML"),
        (b"\xef\xbb\xbf  <html><body>invoice</body></html>", "HTML or XML"),
        (SVG, "an SVG image"),
        (WINDOWS_EXE, "a Windows executable"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, "an ELF executable"),
        (b"PK\x03\x04" + b"\x00" * 40, "a zip archive"),
        (b"hello, this is a text file\n", "none of them"),
        # A PDF header that is not at byte 0: a polyglot candidate.
        (b" %PDF-1.4\n%%EOF\n", "none of them"),
    ],
)
def test_anything_else_is_refused_and_named(content: bytes, looks_like: str) -> None:
    with pytest.raises(AttachmentRefused, match="not a PDF, PNG or JPEG") as caught:
        media_type_of(content)
    assert caught.value.reason == "type"
    assert looks_like in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pdf_bytes()[:-200], "no %%EOF"),
        (b"%PDF-1.7\n" + b"x" * 4000 + b"\n%%EOF\n" + b"y" * 2000, "no %%EOF"),
        (png_bytes()[:-12], "does not end with IEND"),
        (png_bytes()[:20], "no IHDR"),
        (png_bytes()[:8] + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 17 + png_bytes()[-12:], "damaged"),
        (png_bytes()[:29] + b"\x00\x00\x00\x00" + png_bytes()[33:], "damaged"),
        (jpeg_bytes()[:-2], "does not end with EOI"),
        (b"\xff\xd8\xff", "does not end with EOI"),
    ],
)
def test_a_truncated_or_damaged_file_of_an_accepted_type_is_refused(
    content: bytes, message: str
) -> None:
    with pytest.raises(AttachmentRefused, match=message):
        media_type_of(content)


def test_an_upload_is_checked_by_content_not_by_its_name() -> None:
    upload = checked_upload(
        png_bytes(), kind="payment_proof", name=" 付款凭证.pdf ", amount=None, max_bytes=10_000
    )
    assert upload.media_type == "image/png"
    assert upload.name == "付款凭证.pdf"
    assert upload.sha256 == hashlib.sha256(png_bytes()).hexdigest()
    with pytest.raises(AttachmentRefused, match="not a PDF"):
        checked_upload(HTML_AS_PDF, kind="contract", name="合同.pdf", amount=None, max_bytes=10_000)


def test_size_is_checked_before_anything_else() -> None:
    big = pdf_bytes() + b" " * 2000
    with pytest.raises(AttachmentRefused, match="more than the limit of 1,024") as caught:
        checked_upload(big, kind="nonsense", name="../x", amount="x", max_bytes=1024)
    assert caught.value.reason == "size"
    with pytest.raises(AttachmentRefused, match="empty"):
        checked_upload(b"", kind="contract", name="a.pdf", amount=None, max_bytes=1024)


def test_only_an_invoice_carries_an_amount() -> None:
    invoice = checked_upload(
        pdf_bytes(), kind="invoice", name="发票.pdf", amount="125000.5", max_bytes=10_000
    )
    assert invoice.amount_fen == 12_500_050
    with pytest.raises(AttachmentRefused, match="an invoice needs the amount") as caught:
        checked_upload(pdf_bytes(), kind="invoice", name="发票.pdf", amount=" ", max_bytes=10_000)
    assert caught.value.reason == "amount"
    with pytest.raises(AttachmentRefused, match="only an invoice carries an amount"):
        checked_upload(pdf_bytes(), kind="contract", name="c.pdf", amount="1", max_bytes=10_000)
    with pytest.raises(AttachmentRefused, match="expected one of contract") as kind:
        checked_upload(pdf_bytes(), kind="receipt", name="c.pdf", amount=None, max_bytes=10_000)
    assert kind.value.reason == "kind"
