"""The whole agent configuration: identity, broker, optional simulated clock, devices."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, ValidationError
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from agent.config.calendar import time_zone
from agent.config.delivery import DeliveryConfig
from agent.config.devices import DeviceConfig, ModbusRtuDeviceConfig
from agent.day_ledger import DEFAULT_TIMEZONE
from contract.clock import Clock, ScaledClock, WallClock
from contract.configfile.types import (
    ConfigModel,
    ConfigPath,
    Hostname,
    Identifier,
    IssueList,
    Port,
    float_range,
    int_range,
    problem,
)

__all__ = ["AgentConfig", "AgentSection", "BrokerConfig", "ClockConfig", "TlsConfig"]

_DAY_S = 86400


def _window_s(value: int) -> int:
    if not 10 <= value <= 3600 or _DAY_S % value:
        raise problem(
            f"got {value}, expected 10..3600 s dividing a day evenly (e.g. 60, 300, 900), so "
            "windows align to the clock"
        )
    return value


class AgentSection(ConfigModel):
    """Who the agent is and where it keeps its key and outbox.

    ``id``, ``platform`` and ``enterprise`` become the MQTT topic levels
    ``rv/v1/{platform}/{enterprise}/{id}/...``. ``window_s`` is the KPI window length.
    ``timezone`` is the enterprise's zone, the one its local days (and so its day seals) are
    cut in: it must be the plan's. ``seal_grace_s`` is how long after a day's end its seal
    waits for late windows.
    """

    id: Identifier
    platform: Identifier
    enterprise: Identifier
    key_path: ConfigPath
    outbox_path: ConfigPath
    window_s: Annotated[int, Field(json_schema_extra={"unit": "s"})] = 60
    #: Windows the outbox holds before it merges old ones (default: 7 days of every device).
    outbox_capacity_windows: Annotated[int, int_range(10, 100_000_000, "windows")] | None = None
    timezone: Annotated[str, AfterValidator(time_zone)] = DEFAULT_TIMEZONE
    seal_grace_s: Annotated[
        int, int_range(0, 86_400, "s"), Field(json_schema_extra={"unit": "s"})
    ] = 300

    @field_validator("window_s", mode="after")
    @classmethod
    def _check_window(cls, value: int) -> int:
        return _window_s(value)


class TlsConfig(ConfigModel):
    """TLS to the broker: the CA to trust, and an optional client certificate and key."""

    ca_path: ConfigPath
    cert_path: ConfigPath | None = None
    key_path: ConfigPath | None = None

    @model_validator(mode="after")
    def _check_pair(self) -> TlsConfig:
        issues = IssueList("TlsConfig")
        if (self.cert_path is None) != (self.key_path is None):
            missing = "key_path" if self.key_path is None else "cert_path"
            present = "cert_path" if missing == "key_path" else "key_path"
            issues.add((missing,), None, f"missing, required together with {present}")
        issues.raise_if_any()
        return self


class BrokerConfig(ConfigModel):
    """The MQTT broker the agent publishes to.

    ``port`` defaults to 8883 with ``tls`` and 1883 without; ``client_id`` defaults to the
    agent id; ``keepalive_s`` is the MQTT keep-alive in seconds.
    """

    host: Hostname
    port: Port
    tls: TlsConfig | None = None
    username: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    password: SecretStr | None = None
    client_id: Identifier | None = None
    keepalive_s: Annotated[int, int_range(5, 3600, "s")] = 60

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: object) -> object:
        if isinstance(data, dict) and "port" not in data:
            return {**data, "port": 8883 if data.get("tls") else 1883}
        return data

    @model_validator(mode="after")
    def _check_login(self) -> BrokerConfig:
        issues = IssueList("BrokerConfig")
        if self.password is not None and self.username is None:
            issues.add(("username",), None, "missing, required when password is set")
        issues.raise_if_any()
        return self


class ClockConfig(ConfigModel):
    """A simulated plant clock for demos and tests: ``plant = start + (wall - anchor) * speed``.

    Production agents leave this block out and run on the wall clock. The simulator is given
    the same three values so both agree on plant time.
    """

    start: AwareDatetime
    anchor: AwareDatetime
    speed: Annotated[float, float_range(0, 1_000_000, "x", low_open=True)]

    def build(self) -> ScaledClock:
        """The scaled clock these settings describe."""
        return ScaledClock(start=self.start, anchor=self.anchor.timestamp(), speed=self.speed)


class AgentConfig(ConfigModel):
    """The agent's configuration file: ``agent``, ``broker``, optional ``clock`` and
    ``delivery``, ``devices``."""

    agent: AgentSection
    broker: BrokerConfig
    delivery: DeliveryConfig = DeliveryConfig()
    clock: ClockConfig | None = None
    devices: Annotated[tuple[DeviceConfig, ...], Field(min_length=1)]

    def outbox_capacity(self) -> int:
        """Windows the outbox holds: as configured, else 7 days of windows for every device."""
        agent = self.agent
        if agent.outbox_capacity_windows is not None:
            return agent.outbox_capacity_windows
        return max(1, len(self.devices)) * (_DAY_S // agent.window_s) * 7

    def make_clock(self) -> Clock:
        """The wall clock, or the simulated clock when a ``clock`` block is configured."""
        return WallClock() if self.clock is None else self.clock.build()

    def device(self, device_id: str) -> DeviceConfig:
        """The device with ``device_id``; raises KeyError if there is none."""
        for device in self.devices:
            if device.id == device_id:
                return device
        raise KeyError(device_id)

    @field_validator("devices", mode="wrap")
    @classmethod
    def _check_devices(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        # Wrapped so that duplicate ids and serial-line conflicts are reported together with
        # the errors inside the devices, not only after every device is valid.
        extra = _duplicate_ids(value) if isinstance(value, list | tuple) else []
        try:
            devices = handler(value)
        except ValidationError as exc:
            valid = _valid_devices(value, info.context)
            raise _merged(exc, extra + _serial_conflicts(valid)) from None
        extra += _serial_conflicts(list(enumerate(devices)))
        if extra:
            raise _merged(None, extra)
        return devices


def _duplicate_ids(raw_devices: list[Any] | tuple[Any, ...]) -> list[InitErrorDetails]:
    first: dict[str, int] = {}
    details = []
    for index, raw in enumerate(raw_devices):
        device_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(device_id, str):
            continue
        if device_id in first:
            details.append(
                InitErrorDetails(
                    type=problem(
                        f"got {device_id!r}, already the id of devices[{first[device_id]}]; "
                        "expected unique device ids"
                    ),
                    loc=(index, "id"),
                    input=device_id,
                )
            )
        first.setdefault(device_id, index)
    return details


_DEVICE_ADAPTER: TypeAdapter[DeviceConfig] = TypeAdapter(DeviceConfig)


def _valid_devices(raw_devices: Any, context: Any) -> list[tuple[int, DeviceConfig]]:
    """The devices that validate on their own, with their index, when some others do not."""
    valid = []
    for index, raw in enumerate(raw_devices if isinstance(raw_devices, list | tuple) else []):
        try:
            valid.append((index, _DEVICE_ADAPTER.validate_python(raw, context=context)))
        except ValidationError:
            continue
    return valid


def _serial_conflicts(devices: list[tuple[int, DeviceConfig]]) -> list[InitErrorDetails]:
    # Devices on one RS-485 line share its framing: a second setting cannot be applied.
    first: dict[str, tuple[int, ModbusRtuDeviceConfig]] = {}
    details = []
    for index, device in devices:
        if not isinstance(device, ModbusRtuDeviceConfig):
            continue
        if device.serial_port not in first:
            first[device.serial_port] = (index, device)
            continue
        other_index, other = first[device.serial_port]
        if device.line_settings() != other.line_settings():
            details.append(
                InitErrorDetails(
                    type=problem(
                        f"got {_line(device)} on {device.serial_port}, but devices[{other_index}]"
                        f" uses {_line(other)} on the same port; expected one setting per port"
                    ),
                    loc=(index, "serial_port"),
                    input=device.serial_port,
                )
            )
    return details


def _line(device: ModbusRtuDeviceConfig) -> str:
    parity = device.parity[0].upper()
    return f"{device.baudrate} {device.byte_size}{parity}{device.stop_bits}"


def _merged(exc: ValidationError | None, extra: list[InitErrorDetails]) -> ValidationError:
    """One ValidationError with the errors of ``exc`` (if any) followed by ``extra``."""
    details: list[InitErrorDetails] = []
    for error in exc.errors() if exc is not None else []:
        if error["type"] == "config":
            # Our own errors carry their finished message (see types.problem).
            details.append(
                InitErrorDetails(type=problem(error["msg"]), loc=error["loc"], input=error["input"])
            )
            continue
        detail = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
        if "ctx" in error:
            detail["ctx"] = error["ctx"]
        details.append(detail)
    return ValidationError.from_exception_data("devices", details + extra)
