"""An invoice's amount in CNY, typed by a person: exact, two decimals at most, no separators.

Kept as integer fen (1 CNY = 100 fen), as the subsidy arithmetic is
(:mod:`collector.evidence.subsidy`): no binary float ever holds money.
"""

from __future__ import annotations

import re
from typing import Final

from collector.attachments.errors import AttachmentRefused

__all__ = ["MAX_AMOUNT_FEN", "cny_text", "fen_of_cny"]

#: The largest amount accepted: 1,000,000,000,000.00 CNY, far past any retrofit.
MAX_AMOUNT_FEN: Final = 10**14
_CNY = re.compile(r"\A(0|[1-9][0-9]{0,11})(?:\.([0-9]{1,2}))?\Z", re.ASCII)


def fen_of_cny(text: str) -> int:
    """``"125000.5"`` → 12500050 fen. AttachmentRefused (reason ``amount``) for anything but
    a positive amount written as digits with at most two decimals."""
    match = _CNY.match(text.strip())
    if match is None:
        raise AttachmentRefused(
            "amount",
            f"invoiced amount {text.strip()[:40]!r}: expected CNY as digits with at most two "
            "decimals, e.g. 125000.00 (no thousands separators, no 万元, no currency sign)",
        )
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    fen = int(whole) * 100 + int(cents)
    if fen <= 0 or fen > MAX_AMOUNT_FEN:
        raise AttachmentRefused(
            "amount", f"invoiced amount {text.strip()!r}: expected more than 0 CNY"
        )
    return fen


def cny_text(fen: int) -> str:
    """An amount in fen as CNY with two decimals: 12500050 → ``"125000.50"``."""
    whole, cents = divmod(fen, 100)
    return f"{whole}.{cents:02d}"
