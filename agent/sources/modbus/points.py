"""One Modbus point (a tag's location and encoding on the device), independent of any config file.

The agent's YAML config is mapped onto :class:`ModbusPoint` by the caller; this module only checks
that a point is self-consistent (a register type that can hold its data type, an address range that
fits the 16-bit address space) and says how many table entries it occupies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["ByteOrder", "DataType", "ModbusPoint", "RegisterType", "WordOrder"]

_MAX_ADDRESS = 0xFFFF


class RegisterType(enum.StrEnum):
    """The four Modbus data tables; coils and discrete inputs hold bits, the others 16-bit words."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    HOLDING = "holding"
    INPUT = "input"

    @property
    def is_bit_table(self) -> bool:
        """True for coils and discrete inputs, whose addresses are single bits."""
        return self in (RegisterType.COIL, RegisterType.DISCRETE_INPUT)


class DataType(enum.StrEnum):
    """How the words (or the bit) of a point are interpreted."""

    BOOL = "bool"
    BIT = "bit"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"


class ByteOrder(enum.StrEnum):
    """Byte order inside each 16-bit register: ``big`` is the Modbus standard (high byte first)."""

    BIG = "big"
    LITTLE = "little"


class WordOrder(enum.StrEnum):
    """Register order of multi-register values: ``big`` means the lowest address holds the most
    significant word (pymodbus's default), ``little`` the least significant."""

    BIG = "big"
    LITTLE = "little"


# Registers per value for the fixed-width types; STRING uses ModbusPoint.string_registers.
_REGISTERS_PER_TYPE: dict[DataType, int] = {
    DataType.BOOL: 1,
    DataType.BIT: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}

NUMERIC_TYPES = frozenset(_REGISTERS_PER_TYPE) - {DataType.BOOL, DataType.BIT}


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """Where one tag lives on a Modbus device and how its value is encoded.

    ``address`` is the 0-based protocol address (what goes on the wire, not the 4xxxx notation).
    ``bit_index`` (0 = least significant) is used by ``DataType.BIT`` only, counted in the register
    value after ``byte_order`` is applied. ``string_registers`` is the length of a
    ``DataType.STRING`` in registers (two bytes each). ``value = decoded * scale + offset`` for
    numeric types. ``BOOL`` on a register table means "register is non-zero".

    Raises ValueError when the fields contradict each other; the message names the tag.
    """

    tag: str
    register_type: RegisterType
    address: int
    data_type: DataType = DataType.UINT16
    unit_id: int = 1
    bit_index: int | None = None
    string_registers: int | None = None
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if problems := _problems(self):
            raise ValueError(f"modbus point {self.tag!r}: " + "; ".join(problems))

    @property
    def width(self) -> int:
        """Table entries this point occupies: bits for coils/discrete inputs, else registers."""
        if self.register_type.is_bit_table:
            return 1
        if self.data_type is DataType.STRING:
            if self.string_registers is None:  # __post_init__ refuses it
                raise ValueError(f"modbus point {self.tag!r}: a string without its length")
            return self.string_registers
        return _REGISTERS_PER_TYPE[self.data_type]

    @property
    def end(self) -> int:
        """One past the last table address this point occupies."""
        return self.address + self.width


def _problems(point: ModbusPoint) -> list[str]:
    """Every inconsistency of ``point``, as messages saying what was given and what is expected."""
    problems: list[str] = []
    if not 0 <= point.unit_id <= 255:
        problems.append(f"unit_id: got {point.unit_id}, expected 0..255")
    if point.register_type.is_bit_table and point.data_type is not DataType.BOOL:
        problems.append(
            f"data_type: got {point.data_type.value} on a {point.register_type.value}, "
            "expected bool (coils and discrete inputs hold single bits)"
        )
    problems.extend(_shape_problems(point))
    width = _safe_width(point)
    if point.address < 0 or point.address + width - 1 > _MAX_ADDRESS:
        problems.append(f"address: got {point.address} spanning {width}, expected within 0..65535")
    if point.data_type not in NUMERIC_TYPES and (point.scale != 1.0 or point.offset != 0.0):
        problems.append(
            f"scale/offset: got {point.scale}/{point.offset} on {point.data_type.value}, "
            "expected 1/0 (only numeric types are scaled)"
        )
    return problems


def _shape_problems(point: ModbusPoint) -> list[str]:
    """Problems with the type-specific fields bit_index and string_registers."""
    problems: list[str] = []
    if point.data_type is DataType.BIT:
        if point.bit_index is None or not 0 <= point.bit_index <= 15:
            problems.append(f"bit_index: got {point.bit_index}, expected 0..15 for a bit point")
    elif point.bit_index is not None:
        problems.append(f"bit_index: given for {point.data_type.value}, only bit points use it")
    if point.data_type is DataType.STRING:
        if point.string_registers is None or not 1 <= point.string_registers <= 125:
            problems.append(
                f"string_registers: got {point.string_registers}, expected 1..125 for a string"
            )
    elif point.string_registers is not None:
        problems.append(
            f"string_registers: given for {point.data_type.value}, only string points use it"
        )
    return problems


def _safe_width(point: ModbusPoint) -> int:
    """The point's width, or 1 where the fields are too broken to compute it."""
    if point.register_type.is_bit_table:
        return 1
    if point.data_type is DataType.STRING:
        return point.string_registers or 1
    return _REGISTERS_PER_TYPE.get(point.data_type, 1)
