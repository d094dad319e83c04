"""Devices: how to reach a machine (Modbus TCP, Modbus RTU, OPC UA), how often, and its tags.

``DeviceConfig`` is a union discriminated by ``protocol``. The checks across tags (one tag per
KPI role, no overlapping Modbus registers, unit ids within the protocol's range) live here,
because only the device sees all of its tags.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, model_validator

from agent.config.calendar import CalendarConfig
from agent.config.state import StateInferenceConfig
from agent.config.tags import (
    KPI_ROLES,
    ModbusTagConfig,
    OpcUaTagConfig,
    Role,
    S7TagConfig,
    TagConfig,
)
from contract.configfile.types import (
    ConfigModel,
    ConfigPath,
    Hostname,
    Identifier,
    IssueList,
    Port,
    describe_value,
    float_range,
    int_range,
    problem,
)

__all__ = [
    "DeviceConfig",
    "ModbusDeviceConfig",
    "ModbusRtuDeviceConfig",
    "ModbusTcpDeviceConfig",
    "OpcUaDeviceConfig",
    "Protocol",
    "S7DeviceConfig",
]

Protocol = Literal["modbus_tcp", "modbus_rtu", "opcua", "s7"]
_BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


class _DeviceBase(ConfigModel):
    id: Identifier
    description: Annotated[str, Field(max_length=200)] | None = None
    poll_interval_s: Annotated[float, float_range(0.1, 3600, "s")] = 1.0
    #: Where in each interval the poll falls: polls come at k x poll_interval_s + this.
    poll_offset_s: Annotated[float, float_range(0, 3600, "s")] = 0.0
    timeout_s: Annotated[float, float_range(0.05, 60, "s")] = 1.0
    retries: Annotated[int, int_range(0, 10)] = 1
    #: Longest gap between usable polls that still holds the last state; longer is comm loss.
    comm_loss_after_s: Annotated[float, float_range(0.1, 86400, "s")] | None = None
    ideal_cycle_s: Annotated[float, float_range(0, 86400, "s", low_open=True)] | None = None
    calendar: CalendarConfig | None = None
    #: A machine state inferred from power/current, a run signal or counter activity.
    state: StateInferenceConfig | None = None

    @cached_property
    def _roles(self) -> dict[Role, tuple[str, TagConfig]]:
        """Role -> the first (name, tag) with it, built once: a poll looks roles up six times.

        The model is frozen, so the index cannot go stale (pydantic keeps a cached_property
        out of the fields, the digest and equality). A plain attribute, not a PrivateAttr:
        pydantic's ``__getattr__`` made each private lookup slower than the scan it replaced.
        """
        roles: dict[Role, tuple[str, TagConfig]] = {}
        for name, tag in self.tag_items():
            roles.setdefault(tag.role, (name, tag))
        return roles

    def tag_items(self) -> list[tuple[str, TagConfig]]:
        """(name, tag) pairs in configuration order."""
        tags: dict[str, TagConfig] = dict(getattr(self, "tags", {}))
        return list(tags.items())

    def role_tag(self, role: Role) -> tuple[str, TagConfig] | None:
        """The (name, tag) with ``role``; None if the device has none. ``info`` may repeat."""
        return self._roles.get(role)

    def energy_tag(self) -> tuple[str, TagConfig] | None:
        """The tag energy is taken from: the ``energy_kwh`` meter if any, else ``power_kw``.

        A meter counts every kWh even between polls; integrating power misses what happens
        between samples, so the meter wins when a device has both.
        """
        return self.role_tag(Role.ENERGY_KWH) or self.role_tag(Role.POWER_KW)

    def _role_issues(self, issues: IssueList) -> None:
        if self.poll_offset_s >= self.poll_interval_s:
            issues.add(
                ("poll_offset_s",),
                self.poll_offset_s,
                f"got {self.poll_offset_s:g}, expected less than poll_interval_s "
                f"({self.poll_interval_s:g})",
            )
        first_with_role: dict[Role, str] = {}
        for name, tag in self.tag_items():
            if tag.role not in KPI_ROLES:
                continue
            if tag.role in first_with_role:
                issues.add(
                    ("tags", name, "role"),
                    tag.role.value,
                    f"got {tag.role.value!r}, but tag {first_with_role[tag.role]!r} already has "
                    f"this role; expected at most one {tag.role.value} tag per device",
                )
            first_with_role.setdefault(tag.role, name)
        self._state_issues(issues)

    def _state_issues(self, issues: IssueList) -> None:
        """What the ``state`` block asks of this device's tags and settings."""
        if self.state is not None:
            self.state.device_issues(
                issues,
                dict(self.tag_items()),
                ideal_cycle_s=self.ideal_cycle_s,
                has_total_count=self.role_tag(Role.TOTAL_COUNT) is not None,
            )


TagName = Identifier


class _ModbusDeviceBase(_DeviceBase):
    max_read_registers: Annotated[int, int_range(1, 125, "registers")] = 125
    max_read_bits: Annotated[int, int_range(1, 2000, "bits")] = 2000
    max_gap: Annotated[int, int_range(0, 125)] = 10
    #: Quirks of real devices (docs/configuration.md); 0 changes nothing.
    pause_after_connect_s: Annotated[float, float_range(0, 60, "s")] = 0.0
    min_request_gap_s: Annotated[float, float_range(0, 10, "s")] = 0.0
    tags: Annotated[dict[TagName, ModbusTagConfig], Field(min_length=1)]

    unit_range: ClassVar[tuple[int, int]] = (0, 255)

    def unit_of(self, tag: ModbusTagConfig) -> int:
        """The unit (slave) id a tag is read from: its own, else the device's."""
        unit_id: int = getattr(self, "unit_id", 1)
        return tag.unit_id if tag.unit_id is not None else unit_id

    def _modbus_issues(self, issues: IssueList) -> None:
        self._role_issues(issues)
        low, high = self.unit_range
        for name, tag in self.tags.items():
            if tag.unit_id is not None and not low <= tag.unit_id <= high:
                issues.add(
                    ("tags", name, "unit_id"),
                    tag.unit_id,
                    f"got {tag.unit_id}, expected {low}..{high} for a {self._protocol()} device",
                )
        for name, other in _overlaps(self):
            tag = self.tags[name]
            issues.add(
                ("tags", name, "address"),
                tag.address,
                f"{tag.register_type} {tag.address}..{tag.last_address} on unit "
                f"{self.unit_of(tag)} overlaps tag {other!r}; expected tags that do not share "
                "registers (bit tags may share a register when their bits differ)",
            )

    def _protocol(self) -> str:
        protocol: str = getattr(self, "protocol", "modbus")
        return protocol


def _overlaps(device: _ModbusDeviceBase) -> list[tuple[str, str]]:
    """(tag, earlier tag) pairs that read the same table entries on the same unit."""
    found = []
    seen: list[tuple[str, ModbusTagConfig]] = []
    for name, tag in device.tags.items():
        for other_name, other in seen:
            same_table = (device.unit_of(tag), tag.register_type) == (
                device.unit_of(other),
                other.register_type,
            )
            if not same_table or tag.last_address < other.address:
                continue
            if other.last_address < tag.address:
                continue
            if tag.data_type == other.data_type == "bit" and tag.bit != other.bit:
                continue
            found.append((name, other_name))
            break
        seen.append((name, tag))
    return found


class ModbusTcpDeviceConfig(_ModbusDeviceBase):
    """A Modbus TCP device (or a gateway in front of serial devices: set ``unit_id`` per tag).

    ``share_connection``: devices behind one TCP-to-RS-485 gateway (same host and port) that all
    set it read over one TCP connection, one request at a time, as devices on one serial line
    do; the default (false) gives each device its own connection, as before.
    """

    protocol: Literal["modbus_tcp"]
    host: Hostname
    port: Port = 502
    unit_id: Annotated[int, int_range(0, 255)] = 1
    share_connection: bool = False

    @model_validator(mode="after")
    def _check(self) -> ModbusTcpDeviceConfig:
        issues = IssueList("ModbusTcpDeviceConfig")
        self._modbus_issues(issues)
        issues.raise_if_any()
        return self


class ModbusRtuDeviceConfig(_ModbusDeviceBase):
    """A Modbus RTU device on a serial line; several devices may share one ``serial_port``.

    Defaults follow the Modbus over serial line specification V1.02 (2.5.1): 19200 baud, even
    parity, one stop bit, eight data bits.
    """

    protocol: Literal["modbus_rtu"]
    serial_port: Annotated[str, Field(min_length=1, max_length=256)]
    baudrate: int = 19200
    parity: Literal["none", "even", "odd"] = "even"
    stop_bits: Literal[1, 2] = 1
    byte_size: Literal[7, 8] = 8
    unit_id: Annotated[int, int_range(1, 247)] = 1

    unit_range: ClassVar[tuple[int, int]] = (1, 247)

    @model_validator(mode="after")
    def _check(self) -> ModbusRtuDeviceConfig:
        issues = IssueList("ModbusRtuDeviceConfig")
        if self.baudrate not in _BAUD_RATES:
            rates = ", ".join(str(rate) for rate in _BAUD_RATES)
            issues.add(
                ("baudrate",), self.baudrate, f"got {self.baudrate}, expected one of {rates}"
            )
        self._modbus_issues(issues)
        issues.raise_if_any()
        return self

    def line_settings(self) -> tuple[int, str, int, int]:
        """(baudrate, parity, stop_bits, byte_size): what devices sharing a port must agree on."""
        return (self.baudrate, self.parity, self.stop_bits, self.byte_size)


def _endpoint(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise problem(
            f"got {describe_value(value)}, expected an endpoint URL such as "
            "'opc.tcp://192.168.1.20:4840'"
        )
    try:
        _ = parts.port
    except ValueError:
        raise problem(f"got {describe_value(value)}, expected a port 1..65535 in the URL") from None
    return value


class OpcUaDeviceConfig(_DeviceBase):
    """An OPC UA server: endpoint, security, login, and subscription or polling.

    ``security_mode`` defaults to ``None`` with policy ``None`` and to ``SignAndEncrypt`` with
    ``Basic256Sha256``. ``certificate_path`` / ``private_key_path`` are the agent's application
    instance certificate and key, needed for a secure channel and for certificate login.
    ``sampling_interval_s`` defaults to ``poll_interval_s``.
    """

    protocol: Literal["opcua"]
    endpoint: Annotated[str, Field(max_length=512), AfterValidator(_endpoint)]
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"]
    certificate_path: ConfigPath | None = None
    private_key_path: ConfigPath | None = None
    server_certificate_path: ConfigPath | None = None
    auth: Literal["anonymous", "username", "certificate"] = "anonymous"
    username: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    password: SecretStr | None = None
    read_mode: Literal["subscription", "polling"] = "subscription"
    sampling_interval_s: Annotated[float, float_range(0, 3600, "s")] | None = None
    queue_size: Annotated[int, int_range(1, 10000)] = 10
    deadband: Annotated[float, float_range(0, 1e12)] = 0.0
    tags: Annotated[dict[TagName, OpcUaTagConfig], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _default_security_mode(cls, data: object) -> object:
        if isinstance(data, dict) and "security_mode" not in data:
            secure = data.get("security_policy", "None") != "None"
            return {**data, "security_mode": "SignAndEncrypt" if secure else "None"}
        return data

    @property
    def effective_sampling_interval_s(self) -> float:
        """The sampling interval asked of the server, in seconds."""
        if self.sampling_interval_s is not None:
            return self.sampling_interval_s
        return self.poll_interval_s

    @model_validator(mode="after")
    def _check(self) -> OpcUaDeviceConfig:
        issues = IssueList("OpcUaDeviceConfig")
        self._security_issues(issues)
        self._auth_issues(issues)
        self._role_issues(issues)
        issues.raise_if_any()
        return self

    def _security_issues(self, issues: IssueList) -> None:
        policy, mode = self.security_policy, self.security_mode
        if policy == "None" and mode != "None":
            issues.add(
                ("security_mode",),
                mode,
                f"got {mode!r}, expected 'None' with security_policy None (set security_policy: "
                "Basic256Sha256 to sign or encrypt)",
            )
        if policy != "None" and mode == "None":
            issues.add(
                ("security_mode",),
                mode,
                f"got 'None', expected 'Sign' or 'SignAndEncrypt' with security_policy {policy}",
            )
        if policy != "None":
            self._require_certificate(issues, f"security_policy {policy}")

    def _auth_issues(self, issues: IssueList) -> None:
        if self.auth == "username":
            for key in ("username", "password"):
                if getattr(self, key) is None:
                    issues.add((key,), None, "missing, required for auth username")
        else:
            for key in ("username", "password"):
                if getattr(self, key) is not None:
                    issues.add(
                        (key,),
                        "(set)",
                        f"not allowed with auth {self.auth}; set auth: username to log in with it",
                    )
        if self.auth == "certificate":
            self._require_certificate(issues, "auth certificate")

    def _require_certificate(self, issues: IssueList, because: str) -> None:
        for key in ("certificate_path", "private_key_path"):
            if getattr(self, key) is None and (key,) not in issues.locations():
                issues.add((key,), None, f"missing, required for {because}")


class S7DeviceConfig(_DeviceBase):
    """A Siemens S7 PLC over ISO-on-TCP (RFC 1006): address, rack and slot, connection type.

    ``slot`` defaults to 1 (S7-1200/1500); an S7-300 CPU sits in slot 2. ``connection_type``
    defaults to ``op`` (operator panel), not snap7's ``pg`` (programming device): an S7-200
    SMART or S7-300 usually has one PG connection, and an agent that polls forever must not
    take it from the engineer's laptop (Telegraf #14994); ``basic`` is the third resource.
    ``pdu_size_bytes`` is the PDU size asked for; the PLC may grant less, and reads are
    coalesced to fit what it granted. ``max_gap_bytes`` is how many unused bytes a coalesced
    read may read through.
    """

    protocol: Literal["s7"]
    host: Hostname
    port: Port = 102
    rack: Annotated[int, int_range(0, 7)] = 0
    slot: Annotated[int, int_range(0, 31)] = 1
    connection_type: Literal["pg", "op", "basic"] = "op"
    pdu_size_bytes: Annotated[int, int_range(240, 960, "bytes")] = 480
    max_gap_bytes: Annotated[int, int_range(0, 960, "bytes")] = 16
    tags: Annotated[dict[TagName, S7TagConfig], Field(min_length=1)]

    @model_validator(mode="after")
    def _check(self) -> S7DeviceConfig:
        issues = IssueList("S7DeviceConfig")
        self._role_issues(issues)
        issues.raise_if_any()
        return self


ModbusDeviceConfig = ModbusTcpDeviceConfig | ModbusRtuDeviceConfig

#: One device of the configuration, chosen by its ``protocol`` key.
DeviceConfig = Annotated[
    ModbusTcpDeviceConfig | ModbusRtuDeviceConfig | OpcUaDeviceConfig | S7DeviceConfig,
    Field(discriminator="protocol"),
]
