"""Point and connection settings: contradictions are refused with the tag and field named."""

from __future__ import annotations

import random

import pytest

from agent.sources.backoff import Backoff
from agent.sources.modbus import (
    DataType,
    ModbusConnection,
    ModbusPoint,
    RegisterType,
    TcpLink,
)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"register_type": RegisterType.COIL, "data_type": DataType.UINT16},
            "data_type: got uint16 on a coil, expected bool",
        ),
        ({"data_type": DataType.BIT}, "bit_index: got None, expected 0..15"),
        ({"data_type": DataType.BIT, "bit_index": 16}, "bit_index: got 16, expected 0..15"),
        ({"bit_index": 3}, "bit_index: given for uint16, only bit points use it"),
        ({"data_type": DataType.STRING}, "string_registers: got None, expected 1..125"),
        (
            {"address": 65535, "data_type": DataType.FLOAT32},
            "address: got 65535 spanning 2, expected within 0..65535",
        ),
        ({"address": -1}, "address: got -1 spanning 1"),
        ({"unit_id": 256}, "unit_id: got 256, expected 0..255"),
        ({"data_type": DataType.BOOL, "scale": 2.0}, "scale/offset: got 2.0/0.0 on bool"),
    ],
)
def test_inconsistent_points_are_refused_naming_tag_and_field(
    fields: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "tag": "spindle",
        "register_type": RegisterType.HOLDING,
        "address": 0,
    }
    arguments |= fields
    with pytest.raises(ValueError, match="modbus point 'spindle': ") as raised:
        ModbusPoint(**arguments)  # type: ignore[arg-type]  # deliberately wrong combinations
    assert message in str(raised.value)


def test_widths_follow_the_data_type() -> None:
    def width(data_type: DataType, string_registers: int | None = None) -> int:
        return ModbusPoint(
            tag="t",
            register_type=RegisterType.INPUT,
            address=10,
            data_type=data_type,
            string_registers=string_registers,
        ).width

    assert [width(t) for t in (DataType.INT16, DataType.UINT32, DataType.FLOAT64)] == [1, 2, 4]
    assert width(DataType.STRING, string_registers=8) == 8
    assert (
        ModbusPoint(
            tag="c", register_type=RegisterType.COIL, address=3, data_type=DataType.BOOL
        ).end
        == 4
    )


def test_connection_settings_outside_the_spec_are_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"10\.0\.0\.5:502: max_read_registers: got 126, expected 1\.\.125; max_gap: got -1",
    ):
        ModbusConnection(link=TcpLink("10.0.0.5"), max_read_registers=126, max_gap=-1)


def test_backoff_doubles_to_its_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    delays = [backoff.next_delay_s() for _ in range(6)]
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(
        ceiling / 2 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True)
    )
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    assert backoff.failures == 6
    backoff.reset()
    assert backoff.next_delay_s() <= 1.0
