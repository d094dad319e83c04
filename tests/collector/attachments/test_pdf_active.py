"""A PDF's active content, found by parsing (pypdf, in a child process with limits): hostile
PDFs built in the test are refused naming what they carry; honest ones pass."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collector.attachments import AttachmentRefused, checked_upload
from collector.attachments.pdf_scan import active_content
from tests.collector.attachments import hostile
from tests.collector.attachments.samples import pdf_bytes

_LIMIT = 64 * 1024 * 1024


def _upload(content: bytes) -> None:
    checked_upload(content, kind="contract", name="contract.pdf", amount=None, max_bytes=_LIMIT)


@pytest.mark.parametrize(
    "make",
    [pdf_bytes, hostile.link_pdf, hostile.goto_open_action_pdf],
    ids=["plain", "link", "open-at-page-1"],
)
def test_honest_pdfs_pass(make: Callable[[], bytes]) -> None:
    _upload(make())


@pytest.mark.parametrize(
    ("make", "found"),
    [
        (hostile.escaped_javascript_pdf, "JavaScript (object 6)"),
        (hostile.javascript_in_object_stream_pdf, "JavaScript (object 7)"),
        (hostile.launch_pdf, "a launch action"),
        (hostile.embedded_file_pdf, "an embedded file (object 8)"),
        (hostile.open_action_uri_pdf, "an automatic /OpenAction that runs a URI action"),
        (hostile.xfa_pdf, "an XFA form"),
    ],
    ids=["hex-escaped-js", "js-in-object-stream", "launch", "embedded-file", "open-uri", "xfa"],
)
def test_active_content_is_refused_naming_what_and_where(
    make: Callable[[], bytes], found: str
) -> None:
    with pytest.raises(AttachmentRefused) as caught:
        _upload(make())
    assert caught.value.reason == "active"
    message = str(caught.value)
    assert "active content" in message and found in message, message
    assert "not cleaned" in message


def test_the_hostile_names_are_not_in_the_raw_bytes() -> None:
    # What makes the two cases worth having: a search of the bytes would find nothing.
    assert b"JavaScript" not in hostile.escaped_javascript_pdf()
    assert b"/JS" not in hostile.escaped_javascript_pdf()
    assert b"JavaScript" not in hostile.javascript_in_object_stream_pdf()


def test_the_scan_reads_objects_no_reference_reaches() -> None:
    # Object 6 is in the cross-reference table but nothing points at it.
    orphan = hostile.pdf_of(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Producer (x) >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
            b"<< /S /JavaScript /JS (1) >>",
        ]
    )
    assert active_content(orphan) == ["JavaScript (object 6)"]


def test_a_deflate_bomb_is_refused_as_unreadable() -> None:
    with pytest.raises(AttachmentRefused) as caught:
        _upload(hostile.deflate_bomb_pdf())
    assert caught.value.reason == "unreadable"
    assert "could not be checked" in str(caught.value) and "Limit" in str(caught.value)


def test_a_pdf_that_does_not_parse_is_refused_as_unreadable() -> None:
    with pytest.raises(AttachmentRefused) as caught:
        _upload(b"%PDF-1.7\n" + b"x" * 4000 + b"\n%%EOF\n")
    assert caught.value.reason == "unreadable"
    assert "could not be checked" in str(caught.value)


def test_the_checking_child_imports_nothing_of_ours() -> None:
    # pdf_guard runs pdf_scan.py as a file (python -I, not -m): an import of our package there
    # would fail in the child, or bring pydantic back into its start.
    import ast
    from pathlib import Path

    import collector.attachments.pdf_scan as scanner

    tree = ast.parse(Path(scanner.__file__).read_text(encoding="utf-8"))
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names]  # fmt: skip
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    ours = [name for name in names if name.split(".")[0] in ("collector", "contract", "agent")]
    assert ours == []
