"""File names with a path or control characters are refused, not reduced; amounts are exact
CNY with two decimals at most; a download's name carries its content's suffix."""

from __future__ import annotations

import pytest

from collector.attachments import (
    MAX_NAME_CHARS,
    AttachmentRefused,
    checked_name,
    cny_text,
    download_name,
    fen_of_cny,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("合同.pdf", "合同.pdf"),
        ("  invoice 2026-03 (1).PDF  ", "invoice 2026-03 (1).PDF"),
        ("e\u0301.pdf", "\u00e9.pdf"),  # NFC
        ("a" * MAX_NAME_CHARS, "a" * MAX_NAME_CHARS),
    ],
)
def test_a_plain_name_is_kept(name: str, expected: str) -> None:
    assert checked_name(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../etc/passwd", "holds a path"),
        ("/var/lib/x.pdf", "holds a path"),
        ("C:\\Users\\x\\invoice.pdf", "holds a path"),
        ("C:invoice.pdf", "holds a path"),
        ("..", "holds a path"),
        ("invoice\x00.pdf", "control or formatting characters (U+0000)"),
        ("invoice\n.pdf", "control or formatting characters (U+000A)"),
        ("evil\u202efdp.exe", "control or formatting characters (U+202E)"),
        ("a\u2028b.pdf", "U+2028"),
        ('in"voice.pdf', 'holds "'),
        ("what?.pdf", "holds ?"),
        (".hidden.pdf", "starts with a dot"),
        ("", "empty"),
        ("   ", "empty"),
        ("a" * (MAX_NAME_CHARS + 1), "at most 200"),
    ],
)
def test_a_name_with_a_path_or_control_characters_is_refused(name: str, message: str) -> None:
    with pytest.raises(AttachmentRefused, match="file name refused") as caught:
        checked_name(name)
    assert message in str(caught.value)
    assert caught.value.reason == "name"


@pytest.mark.parametrize(
    ("name", "media_type", "expected"),
    [
        ("合同.pdf", "application/pdf", "合同.pdf"),
        ("scan.JPEG", "image/jpeg", "scan.JPEG"),
        ("scan.jpg", "image/jpeg", "scan.jpg"),
        ("invoice.html", "application/pdf", "invoice.html.pdf"),
        ("photo", "image/png", "photo.png"),
    ],
)
def test_a_download_name_ends_with_its_contents_suffix(
    name: str, media_type: str, expected: str
) -> None:
    assert download_name(name, media_type) == expected


@pytest.mark.parametrize(
    ("text", "fen"),
    [("125000", 12_500_000), ("125000.5", 12_500_050), (" 0.01 ", 1), ("99.99", 9_999)],
)
def test_an_amount_is_exact_cny(text: str, fen: int) -> None:
    assert fen_of_cny(text) == fen
    assert fen_of_cny(cny_text(fen)) == fen


@pytest.mark.parametrize(
    "text", ["1,250,000.00", "125万元", "12.5万", "¥125000", "-5", "1.234", "1e5", "0", "0.00",
             "", "NaN", "０１２"],
)  # fmt: skip
def test_an_amount_with_separators_units_or_more_decimals_is_refused(text: str) -> None:
    with pytest.raises(AttachmentRefused) as caught:
        fen_of_cny(text)
    assert caught.value.reason == "amount"
