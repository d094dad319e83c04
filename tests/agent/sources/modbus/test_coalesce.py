"""Read coalescing: properties over random point sets, and the cases an installer would check."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.sources.modbus import DataType, ModbusPoint, RegisterType, plan_reads, split_request
from agent.sources.modbus.coalesce import BITS_PER_REGISTER, ReadRequest

REGISTER_TYPES = [DataType.UINT16, DataType.INT32, DataType.FLOAT64, DataType.BIT, DataType.STRING]


@st.composite
def points(draw: st.DrawFn) -> ModbusPoint:
    register_type = draw(st.sampled_from(list(RegisterType)))
    data_type = (
        DataType.BOOL if register_type.is_bit_table else draw(st.sampled_from(REGISTER_TYPES))
    )
    return ModbusPoint(
        tag=f"t{draw(st.integers())}",
        register_type=register_type,
        address=draw(st.integers(0, 400)),
        data_type=data_type,
        unit_id=draw(st.sampled_from([1, 2])),
        bit_index=draw(st.integers(0, 15)) if data_type is DataType.BIT else None,
        string_registers=draw(st.integers(1, 8)) if data_type is DataType.STRING else None,
    )


LIMITS = st.tuples(st.integers(8, 125), st.integers(1, 2000), st.integers(0, 30))


def longest_unused_run(request: ReadRequest) -> int:
    """Longest run of addresses in the request that no point of it occupies."""
    used = {address for p in request.points for address in range(p.address, p.end)}
    longest = run = 0
    for address in range(request.address, request.end):
        run = 0 if address in used else run + 1
        longest = max(longest, run)
    return longest


@given(st.lists(points(), max_size=40), LIMITS)
def test_every_point_is_in_exactly_one_request_holding_all_its_words(
    some_points: list[ModbusPoint], limits: tuple[int, int, int]
) -> None:
    max_registers, max_bits, max_gap = limits
    plan = plan_reads(some_points, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap)
    placed = [id(p) for request in plan for p in request.points]
    assert sorted(placed) == sorted(id(p) for p in some_points)
    for request in plan:
        for p in request.points:
            assert (p.unit_id, p.register_type) == (request.unit_id, request.register_type)
            assert request.address <= p.address and p.end <= request.end


@given(st.lists(points(), max_size=40), LIMITS)
def test_no_request_is_too_long_or_reads_through_more_than_the_gap(
    some_points: list[ModbusPoint], limits: tuple[int, int, int]
) -> None:
    max_registers, max_bits, max_gap = limits
    plan = plan_reads(some_points, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap)
    for request in plan:
        limit = max_bits if request.register_type.is_bit_table else max_registers
        assert 1 <= request.count <= limit
        assert longest_unused_run(request) <= gap_of(request, max_gap)
        # No wasted addresses at either end.
        assert request.address == min(p.address for p in request.points)
        assert request.end == max(p.end for p in request.points)


def gap_of(request: ReadRequest, max_gap: int) -> int:
    """The hole allowed in a request's table: bit tables get 16 bits per register of gap."""
    return max_gap * BITS_PER_REGISTER if request.register_type.is_bit_table else max_gap


@given(st.lists(points(), max_size=40), LIMITS)
def test_requests_are_only_split_when_a_limit_forces_it(
    some_points: list[ModbusPoint], limits: tuple[int, int, int]
) -> None:
    max_registers, max_bits, max_gap = limits
    plan = plan_reads(some_points, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap)
    for before, after in itertools.pairwise(plan):
        if (before.unit_id, before.register_type) != (after.unit_id, after.register_type):
            continue
        limit = max_bits if after.register_type.is_bit_table else max_registers
        first_of_next = min(after.points, key=lambda p: (p.address, p.end))
        too_far = first_of_next.address - before.end > gap_of(after, max_gap)
        too_long = max(before.end, first_of_next.end) - before.address > limit
        assert too_far or too_long


@given(st.lists(points(), min_size=1, max_size=40), LIMITS)
def test_split_requests_read_no_unused_address(
    some_points: list[ModbusPoint], limits: tuple[int, int, int]
) -> None:
    max_registers, max_bits, max_gap = limits
    for request in plan_reads(
        some_points, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap
    ):
        parts = split_request(request)
        assert sorted(id(p) for part in parts for p in part.points) == sorted(
            id(p) for p in request.points
        )
        assert all(longest_unused_run(part) == 0 for part in parts)


def holding(
    tag: str, address: int, data_type: DataType = DataType.UINT16, unit_id: int = 1
) -> ModbusPoint:
    return ModbusPoint(
        tag=tag,
        register_type=RegisterType.HOLDING,
        address=address,
        data_type=data_type,
        unit_id=unit_id,
    )


def spans(plan: list[ReadRequest]) -> list[tuple[int, int, int]]:
    return [(request.unit_id, request.address, request.count) for request in plan]


def test_neighbours_within_the_gap_share_one_request_and_a_float_never_splits() -> None:
    tags = [holding("a", 0), holding("b", 5, DataType.FLOAT32), holding("c", 12), holding("d", 40)]
    plan = plan_reads(tags, max_registers=125, max_bits=2000, max_gap=10)
    assert spans(plan) == [(1, 0, 13), (1, 40, 1)]
    # With reads of at most 6 registers, 0..6 is too long: the float at 5..6 moves whole to the
    # next request instead of being cut after register 5.
    plan = plan_reads(tags, max_registers=6, max_bits=2000, max_gap=10)
    assert spans(plan) == [(1, 0, 1), (1, 5, 2), (1, 12, 1), (1, 40, 1)]


def test_gap_zero_reads_only_contiguous_points_and_units_never_mix() -> None:
    tags = [holding("a", 0), holding("b", 1), holding("c", 3), holding("d", 2, unit_id=2)]
    plan = plan_reads(tags, max_registers=125, max_bits=2000, max_gap=0)
    assert spans(plan) == [(1, 0, 2), (1, 3, 1), (2, 2, 1)]


def test_points_sharing_a_register_are_one_read_even_when_split() -> None:
    bits = [
        ModbusPoint(
            tag=f"bit{i}",
            register_type=RegisterType.HOLDING,
            address=7,
            data_type=DataType.BIT,
            bit_index=i,
        )
        for i in range(3)
    ]
    request = plan_reads([*bits, holding("x", 9)], max_registers=125, max_bits=2000, max_gap=10)[0]
    assert [(part.address, part.count, len(part.points)) for part in split_request(request)] == [
        (7, 1, 3),
        (9, 1, 1),
    ]


def test_a_point_longer_than_the_maximum_read_is_refused_by_name() -> None:
    text = ModbusPoint(
        tag="serial_no",
        register_type=RegisterType.INPUT,
        address=0,
        data_type=DataType.STRING,
        string_registers=20,
    )
    with pytest.raises(
        ValueError,
        match="'serial_no': spans 20 addresses, more than the device's maximum read of 16",
    ):
        plan_reads([text], max_registers=16, max_bits=2000, max_gap=0)
