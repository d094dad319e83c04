"""Where an S7 value lives (area, data block, byte, bit) and how many bytes it takes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["S7DataType", "S7MemoryArea", "S7Point"]


class S7MemoryArea(enum.StrEnum):
    """The S7 memory areas a tag may live in, by the name the configuration uses."""

    DB = "db"
    MERKER = "merker"
    INPUT = "input"
    OUTPUT = "output"

    def describe(self, db: int) -> str:
        """``DB10``, ``M``, ``I`` or ``Q``: the area as TIA Portal writes it."""
        return {"db": f"DB{db}", "merker": "M", "input": "I", "output": "Q"}[self.value]


class S7DataType(enum.StrEnum):
    """The S7 elementary types the source decodes (big-endian, as the CPU stores them)."""

    BOOL = "bool"
    BYTE = "byte"
    WORD = "word"
    DWORD = "dword"
    INT = "int"
    DINT = "dint"
    REAL = "real"
    LREAL = "lreal"
    STRING = "string"
    WSTRING = "wstring"


_FIXED_SIZES = {"bool": 1, "byte": 1, "word": 2, "int": 2, "dword": 4, "dint": 4}
_FIXED_SIZES |= {"real": 4, "lreal": 8}


@dataclass(frozen=True, slots=True)
class S7Point:
    """One tag's place in the PLC: ``area`` (``db`` with data block ``db``), byte offset
    ``start``, ``bit`` (0..7) for a bool, ``length`` (declared characters) for a string.

    value = raw * scale + offset for the numeric types. Raises ValueError when a field
    contradicts the type (a bool without a bit, a string without a length).
    """

    tag: str
    area: S7MemoryArea
    db: int
    start: int
    data_type: S7DataType
    bit: int | None = None
    length: int | None = None
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if (self.data_type is S7DataType.BOOL) != (self.bit is not None):
            raise ValueError(f"tag {self.tag}: a bit (0..7) is for bool, and bool needs one")
        is_text = self.data_type in (S7DataType.STRING, S7DataType.WSTRING)
        if is_text != (self.length is not None):
            raise ValueError(f"tag {self.tag}: a length is for string/wstring and they need one")

    @property
    def size(self) -> int:
        """Bytes the value occupies (a bool reads its whole byte)."""
        if self.data_type is S7DataType.STRING:
            return (self.length or 0) + 2  # max length byte, actual length byte, characters
        if self.data_type is S7DataType.WSTRING:
            return 2 * (self.length or 0) + 4  # two 16-bit lengths, UTF-16 characters
        return _FIXED_SIZES[self.data_type.value]

    @property
    def end(self) -> int:
        """The first byte after the value."""
        return self.start + self.size

    def describe(self) -> str:
        """``DB10.DBD4 (real)``-like text for log lines and reasons."""
        where = self.area.describe(self.db)
        bit = f".{self.bit}" if self.bit is not None else ""
        return f"{where} byte {self.start}{bit} ({self.data_type.value})"
