"""The agent's configuration file: models, loading with line-accurate errors, the calendar.

See ``docs/configuration.md`` for every key. Typical use::

    loaded = load_config(Path("agent.yaml"))   # raises ConfigFileError / ConfigInvalidError
    for device in loaded.config.devices: ...
"""

from agent.config.calendar import (
    BreakConfig,
    CalendarConfig,
    ShiftConfig,
    Weekday,
    planned_intervals,
    planned_seconds,
)
from agent.config.delivery import DeliveryConfig
from agent.config.devices import (
    DeviceConfig,
    ModbusDeviceConfig,
    ModbusRtuDeviceConfig,
    ModbusTcpDeviceConfig,
    OpcUaDeviceConfig,
    Protocol,
    S7DeviceConfig,
)
from agent.config.load import LoadedConfig, config_digest, load_config, parse_config
from agent.config.root import AgentConfig, AgentSection, BrokerConfig, ClockConfig, TlsConfig
from agent.config.state import (
    CounterActivityConfig,
    LevelConfig,
    RunSignalConfig,
    StateInferenceConfig,
)
from agent.config.tags import (
    COUNTER_ROLES,
    KPI_ROLES,
    MachineState,
    ModbusDataType,
    ModbusTagConfig,
    OpcUaTagConfig,
    RegisterType,
    Role,
    S7TagConfig,
    TagConfig,
)

__all__ = [
    "COUNTER_ROLES",
    "KPI_ROLES",
    "AgentConfig",
    "AgentSection",
    "BreakConfig",
    "BrokerConfig",
    "CalendarConfig",
    "ClockConfig",
    "CounterActivityConfig",
    "DeliveryConfig",
    "DeviceConfig",
    "LevelConfig",
    "LoadedConfig",
    "MachineState",
    "ModbusDataType",
    "ModbusDeviceConfig",
    "ModbusRtuDeviceConfig",
    "ModbusTagConfig",
    "ModbusTcpDeviceConfig",
    "OpcUaDeviceConfig",
    "OpcUaTagConfig",
    "Protocol",
    "RegisterType",
    "Role",
    "RunSignalConfig",
    "S7DeviceConfig",
    "S7TagConfig",
    "ShiftConfig",
    "StateInferenceConfig",
    "TagConfig",
    "TlsConfig",
    "Weekday",
    "config_digest",
    "load_config",
    "parse_config",
    "planned_intervals",
    "planned_seconds",
]
