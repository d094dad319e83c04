"""Which reads go on the wire: neighbouring points of one area merged into byte ranges that
fit the negotiated PDU. Pure: no I/O.

An S7 read response carries at most the PDU size less 18 bytes of data (12 bytes of S7 header,
2 of parameters, 4 of the data item's own header: python-snap7's ``read_area`` uses the same
figure to split its reads). A range that fits is one round trip; points further apart than
``max_gap`` bytes, or in another area or data block, start a new range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .points import S7MemoryArea, S7Point

__all__ = ["READ_OVERHEAD_BYTES", "S7ReadRequest", "max_read_bytes", "plan_reads", "split_read"]

READ_OVERHEAD_BYTES = 18


@dataclass(frozen=True, slots=True)
class S7ReadRequest:
    """One contiguous byte range of one area: ``size`` bytes from ``start``, and its points."""

    area: S7MemoryArea
    db: int
    start: int
    size: int
    points: tuple[S7Point, ...]

    def describe(self) -> str:
        """``DB10 bytes 0..23`` for log lines."""
        return f"{self.area.describe(self.db)} bytes {self.start}..{self.start + self.size - 1}"


def max_read_bytes(pdu_size: int) -> int:
    """Data bytes one read response can carry with a PDU of ``pdu_size`` bytes."""
    return pdu_size - READ_OVERHEAD_BYTES


def plan_reads(points: Sequence[S7Point], max_bytes: int, max_gap: int) -> list[S7ReadRequest]:
    """Reads covering every point: per area and block, by address, merged while the range stays
    within ``max_bytes`` and the hole between points within ``max_gap`` bytes.

    A point longer than ``max_bytes`` (a long string with a small PDU) gets a read of its own,
    which the client splits into PDU-sized pieces. Raises ValueError if ``max_bytes`` < 1.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes: got {max_bytes}, expected at least 1")
    ordered = sorted(points, key=lambda p: (p.area.value, p.db, p.start, p.end))
    requests: list[S7ReadRequest] = []
    group: list[S7Point] = []
    for point in ordered:
        if group and _fits(group, point, max_bytes, max_gap):
            group.append(point)
            continue
        if group:
            requests.append(_request(group))
        group = [point]
    if group:
        requests.append(_request(group))
    return requests


def split_read(request: S7ReadRequest) -> list[S7ReadRequest]:
    """One read per point: used once a PLC refused a coalesced range (a hole, a short block)."""
    return [_request([point]) for point in request.points]


def _fits(group: list[S7Point], point: S7Point, max_bytes: int, max_gap: int) -> bool:
    first = group[0]
    if (point.area, point.db) != (first.area, first.db):
        return False
    end = max(p.end for p in group)
    if point.start - end > max_gap:
        return False
    return max(end, point.end) - first.start <= max_bytes


def _request(group: list[S7Point]) -> S7ReadRequest:
    first = group[0]
    end = max(p.end for p in group)
    return S7ReadRequest(first.area, first.db, first.start, end - first.start, tuple(group))
