"""Which reads an S7 poll sends: per area and block, within the PDU, across small gaps."""

from __future__ import annotations

import pytest

from agent.sources.s7 import (
    READ_OVERHEAD_BYTES,
    S7DataType,
    S7MemoryArea,
    S7Point,
    max_read_bytes,
    plan_reads,
    split_read,
)

DB = S7MemoryArea.DB


def point(tag: str, start: int, data_type: S7DataType = S7DataType.INT, db: int = 1) -> S7Point:
    return S7Point(tag, DB, db, start, data_type)


def ranges(points: list[S7Point], max_bytes: int = 462, max_gap: int = 16) -> list[str]:
    return [r.describe() for r in plan_reads(points, max_bytes, max_gap)]


def test_neighbours_share_a_read_and_far_ones_do_not() -> None:
    points = [point("a", 0), point("b", 2, S7DataType.REAL), point("c", 40)]
    assert ranges(points) == ["DB1 bytes 0..5", "DB1 bytes 40..41"]
    assert ranges(points, max_gap=34) == ["DB1 bytes 0..41"]


def test_blocks_and_areas_never_share_a_read() -> None:
    points = [
        point("a", 0),
        point("b", 2, db=2),
        S7Point("m", S7MemoryArea.MERKER, 0, 2, S7DataType.INT),
    ]
    assert ranges(points) == ["DB1 bytes 0..1", "DB2 bytes 2..3", "M bytes 2..3"]


def test_a_read_never_exceeds_what_the_pdu_carries() -> None:
    assert max_read_bytes(240) == 240 - READ_OVERHEAD_BYTES == 222
    points = [point(f"t{n}", n * 4, S7DataType.DINT) for n in range(100)]  # 400 bytes
    plan = plan_reads(points, max_read_bytes(240), max_gap=0)
    assert [r.size for r in plan] == [220, 180]
    assert sum(len(r.points) for r in plan) == 100


def test_a_value_longer_than_a_read_gets_a_read_of_its_own() -> None:
    long_text = S7Point("recipe", DB, 1, 10, S7DataType.STRING, length=254)
    plan = plan_reads([point("a", 0), long_text], 222, max_gap=16)
    assert [(r.start, r.size) for r in plan] == [(0, 2), (10, 256)]


def test_split_gives_one_read_per_point() -> None:
    (request,) = plan_reads([point("a", 0), point("b", 2), point("c", 4)], 222, 16)
    assert [(r.start, r.size) for r in split_read(request)] == [(0, 2), (2, 2), (4, 2)]


def test_points_reject_contradictions() -> None:
    with pytest.raises(ValueError, match="bit"):
        S7Point("x", DB, 1, 0, S7DataType.BOOL)
    with pytest.raises(ValueError, match="length"):
        S7Point("x", DB, 1, 0, S7DataType.STRING)
    with pytest.raises(ValueError, match="max_bytes"):
        plan_reads([point("a", 0)], 0, 0)
