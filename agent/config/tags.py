"""Tags: what to read from a device (Modbus register or OPC UA node) and the role it plays.

A tag's role tells the KPI engine what the value means: the machine state, one of the three
production counters, energy, cycle time, or ``info`` (read and reported, no KPI role).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, PlainValidator, model_validator

from contract.configfile.types import (
    Address,
    ConfigModel,
    IssueList,
    describe_value,
    float_range,
    int_range,
    problem,
)

__all__ = [
    "COUNTER_ROLES",
    "KPI_ROLES",
    "MachineState",
    "ModbusDataType",
    "ModbusTagConfig",
    "OpcUaTagConfig",
    "RegisterType",
    "Role",
    "S7Area",
    "S7DataType",
    "S7TagConfig",
    "StateKey",
    "TagConfig",
    "ValueKind",
    "value_kind",
]


class Role(enum.StrEnum):
    """What a tag's value means to the KPI engine."""

    STATE = "state"
    TOTAL_COUNT = "total_count"
    GOOD_COUNT = "good_count"
    REJECT_COUNT = "reject_count"
    ENERGY_KWH = "energy_kwh"
    POWER_KW = "power_kw"
    CYCLE_TIME_S = "cycle_time_s"
    INFO = "info"


#: Counters: cumulative, integer, rolling over at their bit width.
COUNTER_ROLES = frozenset({Role.TOTAL_COUNT, Role.GOOD_COUNT, Role.REJECT_COUNT})
#: Roles that feed a KPI window (every role but ``info``).
KPI_ROLES = frozenset(Role) - {Role.INFO}


class MachineState(enum.StrEnum):
    """The machine states of ISO 22400-2 time model as the KPI engine counts them."""

    RUNNING = "running"
    IDLE = "idle"
    DOWN = "down"
    OFF = "off"
    PLANNED_STOP = "planned_stop"


def _state_key(value: object) -> int | str:
    # A raw state value as the device returns it: an integer code, a bool (a coil) or a string
    # (an OPC UA enumeration's text). YAML gives bools as True/False, which are ints 1/0.
    if isinstance(value, bool | int | str):
        return value
    raise problem(f"got {describe_value(value)}, expected an integer, true/false or a string")


#: A key of a ``state_map``: the raw value the device reports.
StateKey = Annotated[int | str, PlainValidator(_state_key)]

RegisterType = Literal["coil", "discrete_input", "holding", "input"]
ModbusDataType = Literal[
    "bool",
    "bit",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
]
_BIT_TABLES = ("coil", "discrete_input")
_INTEGER_BITS = {
    "int16": 16,
    "uint16": 16,
    "int32": 32,
    "uint32": 32,
    "int64": 64,
    "uint64": 64,
}
_REGISTERS = {"bit": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
_REGISTERS |= {"int64": 4, "uint64": 4, "float64": 4}
_NUMERIC = frozenset(_INTEGER_BITS) | {"float32", "float64"}


@dataclass(frozen=True)
class _TypeFamily:
    """A protocol's data types as the roles see them, and how its messages name them."""

    integer_bits: Mapping[str, int]
    numeric: frozenset[str]
    floats: tuple[str, ...]
    integers_named: str  # "(int16..uint64)"
    state_types_named: str  # "bool, bit, an integer type or string"


_MODBUS_TYPES = _TypeFamily(
    _INTEGER_BITS, _NUMERIC, ("float32", "float64"), "int16..uint64",
    "bool, bit, an integer type or string",
)  # fmt: skip
_OPCUA_NODE_RE = re.compile(
    r"^(?:(?:ns=\d{1,5}|nsu=[^;]+);)?(?:i=\d{1,10}|s=.+|g=[0-9A-Fa-f-]{36}|b=[A-Za-z0-9+/=]+)$"
)
_BROWSE_SEGMENT_RE = re.compile(r"^(?:\d{1,5}:)?[^/:]+$")


class _TagBase(ConfigModel):
    role: Role = Role.INFO
    state_map: dict[StateKey, MachineState] | None = None
    state_default: MachineState | None = None
    width: Literal[16, 32, 64] | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: Annotated[str, Field(max_length=32)] | None = None
    description: Annotated[str, Field(max_length=200)] | None = None

    def _role_issues(self, issues: IssueList) -> None:
        """Record what the role requires or forbids of the other keys."""
        role = self.role.value
        if self.role is Role.STATE and not self.state_map:
            issues.add(
                ("state_map",),
                self.state_map,
                "missing, required for role state: a mapping from raw value to one of "
                "running, idle, down, off, planned_stop",
            )
        for key in ("state_map", "state_default"):
            if self.role is not Role.STATE and getattr(self, key) is not None:
                issues.add((key,), getattr(self, key), f"not allowed for role {role}; only state")
        if self.role in COUNTER_ROLES and self.width is None:
            issues.add(
                ("width",),
                None,
                f"missing, required for counter role {role}: the bit width at which the device "
                "counter rolls over, 16, 32 or 64",
            )
        counts = COUNTER_ROLES | {Role.ENERGY_KWH}
        if self.width is not None and self.role not in counts:
            issues.add(
                ("width",),
                self.width,
                f"not allowed for role {role}; only counters and energy_kwh roll over",
            )
        if self.scale == 0:
            issues.add(("scale",), 0, "got 0, expected a non-zero factor")

    def _type_issues(self, issues: IssueList, types: _TypeFamily) -> None:
        """Record what the role requires of the data type, in the protocol's own type names."""
        role, data_type = self.role.value, getattr(self, "data_type", None)
        if self.role in COUNTER_ROLES and data_type not in types.integer_bits:
            issues.add(
                ("data_type",),
                data_type,
                f"got {data_type!r}, expected an integer type ({types.integers_named}) for "
                f"counter role {role}",
            )
        bits = types.integer_bits.get(str(data_type))
        if self.width is not None and bits is not None and self.width > bits:
            issues.add(
                ("width",),
                self.width,
                f"got {self.width}, expected at most {bits} for data_type {data_type}",
            )
        needs_number = {Role.ENERGY_KWH, Role.POWER_KW, Role.CYCLE_TIME_S}
        if self.role in needs_number and data_type not in types.numeric:
            issues.add(
                ("data_type",),
                data_type,
                f"got {data_type!r}, expected a numeric type for role {role}",
            )
        if self.role is Role.STATE and data_type in types.floats:
            issues.add(
                ("data_type",),
                data_type,
                f"got {data_type!r}, expected {types.state_types_named} for role state "
                "(state codes are compared exactly)",
            )
        for key in ("scale", "offset"):
            if key in self.model_fields_set and data_type not in types.numeric:
                issues.add((key,), getattr(self, key), f"not allowed for data_type {data_type}")


class ModbusTagConfig(_TagBase):
    """A Modbus tag: table, address, encoding, and value = raw * scale + offset.

    ``data_type`` defaults to ``bool`` in coils and discrete inputs and ``uint16`` in registers.
    ``bit`` (0..15, 0 the least significant) is only for ``data_type: bit``; ``length`` (in
    registers, 2 characters each) only for ``string``. ``unit_id`` defaults to the device's.
    """

    register_type: RegisterType
    address: Address
    data_type: ModbusDataType
    bit: Annotated[int, int_range(0, 15)] | None = None
    length: Annotated[int, int_range(1, 125, "registers")] | None = None
    byte_order: Literal["big", "little"] = "big"
    word_order: Literal["big", "little"] = "big"
    unit_id: Annotated[int, int_range(0, 255)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_data_type(cls, data: object) -> object:
        if isinstance(data, dict) and "data_type" not in data:
            in_bits = data.get("register_type") in _BIT_TABLES
            return {**data, "data_type": "bool" if in_bits else "uint16"}
        return data

    @property
    def register_count(self) -> int:
        """Table entries the tag occupies: registers, or 1 bit in a coil or discrete input."""
        if self.data_type == "bool":
            return 1
        if self.data_type == "string":
            return self.length or 1
        return _REGISTERS[self.data_type]

    @property
    def last_address(self) -> int:
        """The last table address the tag reads (may exceed 65535 only in an invalid config)."""
        return self.address + self.register_count - 1

    @model_validator(mode="after")
    def _check(self) -> ModbusTagConfig:
        issues = IssueList("ModbusTagConfig")
        self._role_issues(issues)
        self._encoding_issues(issues)
        self._type_issues(issues, _MODBUS_TYPES)
        issues.raise_if_any()
        return self

    def _encoding_issues(self, issues: IssueList) -> None:
        in_bits = self.register_type in _BIT_TABLES
        if in_bits and self.data_type != "bool":
            issues.add(
                ("data_type",),
                self.data_type,
                f"got {self.data_type!r}, expected 'bool' for register_type {self.register_type} "
                "(coils and discrete inputs hold single bits; use holding or input registers "
                "for other types)",
            )
        if not in_bits and self.data_type == "bool":
            issues.add(
                ("data_type",),
                self.data_type,
                f"got 'bool', expected 'bit' (with bit: 0..15) or a numeric type for register_type "
                f"{self.register_type}",
            )
        if self.data_type == "bit" and self.bit is None:
            issues.add(("bit",), None, "missing, required for data_type bit: 0..15")
        if self.data_type != "bit" and self.bit is not None:
            issues.add(("bit",), self.bit, f"not allowed for data_type {self.data_type}")
        if self.data_type == "string" and self.length is None:
            issues.add(
                ("length",), None, "missing, required for data_type string: 1..125 registers"
            )
        if self.data_type != "string" and self.length is not None:
            issues.add(("length",), self.length, f"not allowed for data_type {self.data_type}")
        if self.last_address > 65535:
            issues.add(
                ("address",),
                self.address,
                f"got {self.address} with {self.register_count} registers "
                f"({self.data_type}), which ends at {self.last_address}; expected the tag to end "
                "at or before 65535",
            )
        if "word_order" in self.model_fields_set and self.register_count < 2:
            issues.add(
                ("word_order",),
                self.word_order,
                f"not allowed for data_type {self.data_type}; word order only applies to "
                "values of 2 or more registers",
            )
        if "byte_order" in self.model_fields_set and self.data_type in ("bool", "bit"):
            issues.add(
                ("byte_order",), self.byte_order, f"not allowed for data_type {self.data_type}"
            )


def _node_id(value: str) -> str:
    if not _OPCUA_NODE_RE.fullmatch(value):
        raise problem(
            f"got {describe_value(value)}, expected an OPC UA node id such as "
            "'ns=2;s=Machine.State' or 'ns=2;i=1001'"
        )
    return value


def _browse_path(value: str) -> str:
    segments = value.strip("/").split("/")
    if not value.strip("/") or not all(_BROWSE_SEGMENT_RE.fullmatch(seg) for seg in segments):
        raise problem(
            f"got {describe_value(value)}, expected a browse path of names from the Objects "
            "folder, optionally with namespace indexes: '2:Machine/2:State'"
        )
    return value


class OpcUaTagConfig(_TagBase):
    """An OPC UA tag: a node id, or a browse path from the Objects folder (exactly one).

    ``deadband`` overrides the device's absolute data-change deadband for this tag.
    """

    node: Annotated[str, PlainValidator(lambda v: _node_id(_text(v)))] | None = None
    browse_path: Annotated[str, PlainValidator(lambda v: _browse_path(_text(v)))] | None = None
    deadband: Annotated[float, float_range(0, 1e12)] | None = None

    @model_validator(mode="after")
    def _check(self) -> OpcUaTagConfig:
        issues = IssueList("OpcUaTagConfig")
        self._role_issues(issues)
        if (self.node is None) == (self.browse_path is None):
            given = "both" if self.node is not None else "neither"
            issues.add(
                ("node",),
                None,
                f"got {given} of node and browse_path, expected exactly one of them",
            )
        issues.raise_if_any()
        return self


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise problem(f"got {describe_value(value)}, expected a string")
    return value


S7Area = Literal["db", "merker", "input", "output"]
S7DataType = Literal[
    "bool", "byte", "word", "dword", "int", "dint", "real", "lreal", "string", "wstring"
]
_S7_INTEGER_BITS = {"byte": 8, "word": 16, "dword": 32, "int": 16, "dint": 32}
_S7_NUMERIC = frozenset(_S7_INTEGER_BITS) | {"real", "lreal"}
_S7_TYPES = _TypeFamily(
    _S7_INTEGER_BITS, _S7_NUMERIC, ("real", "lreal"), "byte, word, dword, int, dint",
    "bool, an integer type or a string",
)  # fmt: skip


class S7TagConfig(_TagBase):
    """A Siemens S7 tag: memory area, data block, byte (and bit) address, and S7 data type.

    ``db`` (1..65535) is for ``area: db`` only. ``bit`` (0..7) is required for ``bool`` and not
    allowed otherwise. ``length`` is the declared maximum length in characters of a ``string``
    (``STRING[n]``, n+2 bytes) or ``wstring`` (``WSTRING[n]``, 2n+4 bytes), required for them.
    """

    area: S7Area
    db: Annotated[int, int_range(1, 65535)] | None = None
    byte: Address
    bit: Annotated[int, int_range(0, 7)] | None = None
    data_type: S7DataType
    length: Annotated[int, int_range(1, 254, "characters")] | None = None

    @model_validator(mode="after")
    def _check(self) -> S7TagConfig:
        issues = IssueList("S7TagConfig")
        self._role_issues(issues)
        self._address_issues(issues)
        self._type_issues(issues, _S7_TYPES)
        issues.raise_if_any()
        return self

    def _address_issues(self, issues: IssueList) -> None:
        if self.area == "db" and self.db is None:
            issues.add(("db",), None, "missing, required for area db: the data block number")
        if self.area != "db" and self.db is not None:
            issues.add(("db",), self.db, f"not allowed for area {self.area}; only db")
        if self.data_type == "bool" and self.bit is None:
            issues.add(("bit",), None, "missing, required for data_type bool: 0..7")
        if self.data_type != "bool" and self.bit is not None:
            issues.add(("bit",), self.bit, f"not allowed for data_type {self.data_type}")
        is_text = self.data_type in ("string", "wstring")
        if is_text and self.length is None:
            issues.add(
                ("length",),
                None,
                f"missing, required for data_type {self.data_type}: its declared maximum "
                "length in characters, 1..254",
            )
        if not is_text and self.length is not None:
            issues.add(("length",), self.length, f"not allowed for data_type {self.data_type}")

    @property
    def size_bytes(self) -> int:
        """Bytes the tag occupies in its area (a bool reads its whole byte)."""
        text_chars = self.length or 0
        sizes = {"string": text_chars + 2, "wstring": 2 * text_chars + 4}
        sizes |= {"bool": 1, "byte": 1, "word": 2, "int": 2, "dword": 4, "dint": 4}
        sizes |= {"real": 4, "lreal": 8}
        return sizes[self.data_type]


TagConfig = ModbusTagConfig | OpcUaTagConfig | S7TagConfig


#: What a tag's value is once decoded: ``any`` where the server decides (OPC UA nodes).
ValueKind = Literal["integer", "number", "bool", "text", "any"]


def value_kind(tag: TagConfig) -> ValueKind:
    """The kind of value ``tag`` gives, from its data type in its protocol's own names."""
    if isinstance(tag, OpcUaTagConfig):
        return "any"
    types = _MODBUS_TYPES if isinstance(tag, ModbusTagConfig) else _S7_TYPES
    if tag.data_type in types.integer_bits:
        return "integer"
    if tag.data_type in types.floats:
        return "number"
    return "bool" if tag.data_type in ("bool", "bit") else "text"
