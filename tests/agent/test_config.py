"""Tests of agent/config/ and agent/checkconfig.py: bad inputs as data, good configs, limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.console import Console

from agent.checkconfig import (
    EXIT_CONFIG_ERRORS,
    EXIT_DEVICES_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    check_config,
    probe_device,
)
from agent.config import (
    AgentConfig,
    CalendarConfig,
    DeviceConfig,
    MachineState,
    ModbusRtuDeviceConfig,
    ModbusTagConfig,
    ModbusTcpDeviceConfig,
    OpcUaDeviceConfig,
    Role,
    config_digest,
    load_config,
    parse_config,
    planned_seconds,
)
from agent.errors import UnsupportedProtocolError
from agent.sources.base import Quality, Reading
from contract.configfile.yamlload import MAX_CONFIG_BYTES, parse_yaml
from contract.errors import ConfigFileError, ConfigInvalidError
from stack import free_port

CASES = Path(__file__).parent / "config_cases"
EXAMPLES = Path(__file__).parents[2] / "deploy" / "agent" / "examples"
CASE_ENV = {"RV_SECRET": "s3cret"}

SIM_PLANT = Path(__file__).parents[2] / "sim" / "examples" / "plant.yaml"

MINIMAL = """\
agent:
  id: line-1
  platform: plat-a
  enterprise: ent-1
  key_path: keys/agent.key
  outbox_path: /var/lib/rv/outbox.sqlite
broker:
  host: 127.0.0.1
devices:
  - id: press-1
    protocol: modbus_tcp
    host: 127.0.0.1
    tags:
      state:
        role: state
        register_type: holding
        address: 0
        state_map: {0: off, 1: running, 2: idle, 3: down}
      count:
        role: total_count
        register_type: holding
        address: 2
        data_type: uint32
        width: 32
"""


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def _errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigInvalidError) as caught:
        parse_config(text, "agent.yaml", env=env or {})
    return [str(issue) for issue in caught.value.issues]


# --- bad input as data ----------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_config_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case folder's agent.yaml gives exactly expected.err and its exit code (default 1)."""
    folder = CASES / case
    monkeypatch.chdir(folder)
    console, buffer = _console()
    code = check_config(Path("agent.yaml"), True, console, env=CASE_ENV)
    expected_code = folder / "expected.code"
    wanted = int(expected_code.read_text()) if expected_code.exists() else EXIT_CONFIG_ERRORS
    assert buffer.getvalue() == (folder / "expected.err").read_text()
    assert code == wanted


def test_every_case_has_expected_output() -> None:
    folders = [p for p in CASES.iterdir() if p.is_dir()]
    assert len(folders) >= 30
    assert all((p / "expected.err").is_file() for p in folders)


# --- the file itself ------------------------------------------------------------------------


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    console, buffer = _console()
    assert check_config(tmp_path / "nope.yaml", True, console) == EXIT_USAGE
    assert buffer.getvalue().strip() == f"{tmp_path / 'nope.yaml'}: no such file"


@pytest.mark.timeout(30)  # a safety net: a FIFO must be refused, never waited on
def test_a_fifo_or_device_in_place_of_the_config_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "agent.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigFileError, match=r"not a regular file \(a FIFO\), expected a YAML"):
        load_config(fifo)
    with pytest.raises(ConfigFileError, match="a character device"):
        load_config(Path("/dev/zero"))


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    with pytest.raises(ConfigFileError, match=f"larger than {MAX_CONFIG_BYTES} bytes"):
        load_config(path)


def test_deep_nesting_is_refused() -> None:
    errors = _errors("agent: " + "[" * 500 + "]" * 500 + "\n")
    assert errors == ["agent.yaml:1: nested deeper than 32 levels"]


def test_config_error_str_lists_every_issue() -> None:
    with pytest.raises(ConfigInvalidError) as caught:
        parse_config(MINIMAL.replace("address: 0", "address: -1"), "a.yaml", env={})
    assert str(caught.value) == "a.yaml:17 devices[0].tags.state.address: got -1, expected 0..65535"


# --- good configurations --------------------------------------------------------------------


def test_minimal_config_loads_with_defaults() -> None:
    loaded = parse_config(MINIMAL, "agent.yaml", base_dir=Path("/etc/rv"), env={})
    config = loaded.config
    assert config.agent.window_s == 60
    assert config.agent.key_path == Path("/etc/rv/keys/agent.key")  # relative to the file
    assert config.agent.outbox_path == Path("/var/lib/rv/outbox.sqlite")
    assert config.broker.port == 1883
    assert config.broker.keepalive_s == 60
    device = config.devices[0]
    assert isinstance(device, ModbusTcpDeviceConfig)
    assert (device.port, device.unit_id, device.poll_interval_s) == (502, 1, 1.0)
    state = device.tags["state"]
    assert state.data_type == "uint16"
    assert state.state_map == {
        0: MachineState.OFF,
        1: MachineState.RUNNING,
        2: MachineState.IDLE,
        3: MachineState.DOWN,
    }
    assert device.role_tag(Role.TOTAL_COUNT) == ("count", device.tags["count"])
    assert loaded.digest.startswith("sha256:") and len(loaded.digest) == 71


def test_the_role_index_finds_the_first_tag_of_each_role_and_changes_nothing_else() -> None:
    text = MINIMAL + "      temp: {register_type: input, address: 10}\n"
    text += "      more: {register_type: input, address: 11}\n"
    loaded = parse_config(text, "agent.yaml", env={})
    device = loaded.config.devices[0]
    assert device.role_tag(Role.INFO) == ("temp", device.tags["temp"])  # info may repeat
    assert device.role_tag(Role.STATE) == ("state", device.tags["state"])
    assert device.role_tag(Role.ENERGY_KWH) is None
    again = parse_config(text, "agent.yaml", env={})
    assert config_digest(loaded.config) == again.digest  # the cached index is no setting
    assert loaded.config == again.config


def test_models_are_frozen() -> None:
    config = parse_config(MINIMAL, "agent.yaml", env={}).config
    with pytest.raises(ValueError, match="frozen"):
        config.agent.id = "other"  # type: ignore[misc]  # the point of the test


def test_digest_ignores_comments_and_follows_settings() -> None:
    first = parse_config(MINIMAL, "a", env={}).digest
    commented = parse_config("# a comment\n" + MINIMAL, "a", env={}).digest
    changed = parse_config(MINIMAL.replace("address: 2", "address: 4"), "a", env={}).digest
    assert first == commented
    assert first != changed


def test_yaml_12_scalars_off_and_times_stay_strings() -> None:
    text = MINIMAL.replace("{0: off, 1: running, 2: idle, 3: down}", "{0: off, 1: on, 010: idle}")
    errors = _errors(text)
    # "on" is a string (not true) and so is not a machine state; 010 is ten, not octal eight.
    assert errors == [
        "agent.yaml:18 devices[0].tags.state.state_map[1]: got 'on', expected 'running', 'idle', "
        "'down', 'off' or 'planned_stop'"
    ]
    good = parse_config(text.replace("1: on", "1: running"), "a", env={}).config
    assert good.devices[0].tags["state"].state_map == {
        0: MachineState.OFF,
        1: MachineState.RUNNING,
        10: MachineState.IDLE,
    }
    # Unquoted 12:30 is the time, not YAML 1.1's sexagesimal 750.
    calendar = _calendar("- name: day\n  days: [mon]\n  start: 08:00\n  end: 12:30\n")
    assert calendar.shifts[0].end == dt.time(12, 30)


def test_coil_state_with_bool_keys() -> None:
    text = MINIMAL.replace(
        "register_type: holding\n        address: 0\n        state_map: {0: off, 1: running, 2: "
        "idle, 3: down}",
        "register_type: coil\n        address: 0\n        state_map: {true: running, false: idle}",
    )
    tag = parse_config(text, "a", env={}).config.devices[0].tags["state"]
    assert isinstance(tag, ModbusTagConfig)
    assert tag.data_type == "bool"
    assert tag.state_map == {True: MachineState.RUNNING, False: MachineState.IDLE}


def test_bit_tags_may_share_a_register() -> None:
    extra = "".join(
        f"      b{bit}:\n        register_type: input\n        address: 7\n"
        f"        data_type: bit\n        bit: {bit}\n"
        for bit in (0, 15)
    )
    config = parse_config(MINIMAL + extra, "a", env={}).config
    assert config.devices[0].tags["b15"].bit == 15  # type: ignore[union-attr]


def test_energy_meter_wins_over_power() -> None:
    text = (
        MINIMAL
        + "      kw:\n        role: power_kw\n        register_type: input\n        address: 0\n"
        "        data_type: float32\n"
        "      kwh:\n        role: energy_kwh\n        register_type: input\n        address: 2\n"
        "        data_type: float32\n"
    )
    device = parse_config(text, "a", env={}).config.devices[0]
    assert device.energy_tag() == ("kwh", device.tags["kwh"])


def test_same_address_on_other_unit_is_no_overlap() -> None:
    text = (
        MINIMAL + "      other:\n        register_type: holding\n        address: 0\n"
        "        unit_id: 2\n"
    )
    device = parse_config(text, "a", env={}).config.devices[0]
    assert isinstance(device, ModbusTcpDeviceConfig)
    assert device.unit_of(device.tags["other"]) == 2


def test_opcua_defaults() -> None:
    text = MINIMAL.split("devices:")[0] + textwrap.dedent("""\
        devices:
          - id: cnc-1
            protocol: opcua
            endpoint: opc.tcp://10.0.0.5:4840/server
            poll_interval_s: 2
            tags:
              parts: {role: total_count, node: "ns=2;i=7", width: 64}
        """)
    device = parse_config(text, "a", env={}).config.devices[0]
    assert isinstance(device, OpcUaDeviceConfig)
    assert (device.security_policy, device.security_mode, device.auth) == (
        "None",
        "None",
        "anonymous",
    )
    assert device.effective_sampling_interval_s == 2.0
    secure = parse_config(
        text.replace(
            "poll_interval_s: 2",
            "poll_interval_s: 2\n    security_policy: Basic256Sha256\n"
            "    certificate_path: c.der\n    private_key_path: k.pem",
        ),
        "a",
        env={},
    ).config.devices[0]
    assert isinstance(secure, OpcUaDeviceConfig)
    assert secure.security_mode == "SignAndEncrypt"


def test_broker_tls_port_default() -> None:
    text = MINIMAL.replace(
        "  host: 127.0.0.1\ndevices", "  host: 127.0.0.1\n  tls:\n    ca_path: ca.pem\ndevices"
    )
    assert parse_config(text, "a", env={}).config.broker.port == 8883


def test_merge_keys_share_blocks_and_allow_overrides() -> None:
    text = MINIMAL.replace("devices:\n  - id: press-1\n", "devices:\n  - &p\n    id: press-1\n")
    text += "  - <<: *p\n    id: press-2\n    unit_id: 2\n"
    devices = parse_config(text, "a", env={}).config.devices
    assert [(d.id, d.unit_id) for d in devices] == [("press-1", 1), ("press-2", 2)]  # type: ignore[union-attr]


def test_x_blocks_at_top_level_are_ignored() -> None:
    text = "x-shared: &tags {a: 1}\n" + MINIMAL
    assert parse_config(text, "a", env={}).config.agent.id == "line-1"


def test_clock_block_builds_scaled_clock() -> None:
    text = MINIMAL + (
        "clock:\n  start: 2026-03-02T06:00:00+08:00\n  anchor: 2026-01-01T00:00:00Z\n  speed: 60\n"
    )
    loaded = parse_config(text, "a", env={})
    clock = loaded.config.make_clock()
    assert clock.now().year >= 2026
    assert any(w.path == "clock" and w.severity == "warning" for w in loaded.warnings)


# --- environment variables ------------------------------------------------------------------


def test_env_substitution_with_defaults_and_escape() -> None:
    text = MINIMAL.replace(
        "  host: 127.0.0.1\ndevices",
        "  host: ${RV_BROKER:-127.0.0.1}\n  port: ${RV_PORT}\n  username: u$$er\n"
        "  password: ${RV_PASSWORD}\ndevices",
    )
    config = parse_config(text, "a", env={"RV_PORT": "1884", "RV_PASSWORD": "pa${ss"}).config
    assert config.broker.host == "127.0.0.1"
    assert config.broker.port == 1884
    assert config.broker.username == "u$er"
    assert config.broker.password is not None
    assert config.broker.password.get_secret_value() == "pa${ss"  # values are not re-expanded
    assert "pa${ss" not in repr(config)


def test_env_missing_names_variable_and_key() -> None:
    text = MINIMAL.replace("enterprise: ent-1", "enterprise: ${RV_ENTERPRISE}")
    assert _errors(text) == [
        "agent.yaml:4 agent.enterprise: environment variable RV_ENTERPRISE is not set, expected "
        "it to be set (or write ${RV_ENTERPRISE:-default})"
    ]


# --- line numbers ---------------------------------------------------------------------------


def test_line_numbers_point_at_the_key() -> None:
    text = MINIMAL.replace("width: 32", "width: 33").replace(
        "host: 127.0.0.1\n    tags", "host: 127.0.0.1\n    port: 0\n    tags"
    )
    lines = text.splitlines()
    errors = _errors(text)
    assert len(errors) == 2
    for error in errors:
        line = int(error.split(":")[1].split()[0])
        key = error.split()[1].rsplit(".", 1)[-1].rstrip(":")
        assert lines[line - 1].strip().startswith(f"{key}:"), (error, lines[line - 1])


def test_missing_key_points_at_its_parent() -> None:
    text = MINIMAL.replace("    host: 127.0.0.1\n    tags", "    tags")
    assert _errors(text) == ["agent.yaml:10 devices[0].host: missing, this key is required"]


# --- calendar -------------------------------------------------------------------------------


def _calendar(shifts: str, extra: str = "") -> CalendarConfig:
    text = "timezone: Asia/Shanghai\nshifts:\n" + textwrap.indent(shifts, "  ") + extra
    return CalendarConfig.model_validate(parse_yaml(text, "c", {}).data)


def test_overnight_shift_runs_into_next_day() -> None:
    calendar = _calendar(
        "- name: night\n  days: [mon]\n  start: '22:00'\n  end: '06:00'\n"
        "  breaks: [{start: '02:00', end: '02:30'}]\n"
    )
    zone = calendar.zone
    monday = dt.datetime(2026, 3, 2, tzinfo=zone)
    assert planned_seconds(calendar, monday, monday + dt.timedelta(days=1)) == 2 * 3600
    tuesday = monday + dt.timedelta(days=1)
    assert planned_seconds(calendar, tuesday, tuesday + dt.timedelta(days=1)) == 5.5 * 3600


def test_holiday_and_makeup_day() -> None:
    calendar = _calendar(
        "- name: day\n  days: [mon]\n  start: '08:00'\n  end: '16:00'\n",
        "holidays: [2026-03-02]\nmakeup_days: {2026-03-07: mon}\n",
    )
    zone = calendar.zone
    monday = dt.datetime(2026, 3, 2, tzinfo=zone)
    saturday = dt.datetime(2026, 3, 7, tzinfo=zone)
    assert planned_seconds(calendar, monday, monday + dt.timedelta(days=1)) == 0
    assert planned_seconds(calendar, saturday, saturday + dt.timedelta(days=1)) == 8 * 3600


def test_window_inside_a_break_has_no_planned_time() -> None:
    calendar = _calendar(
        "- name: day\n  days: [mon]\n  start: '08:00'\n  end: '16:00'\n"
        "  breaks: [{start: '12:00', end: '12:30'}]\n"
    )
    start = dt.datetime(2026, 3, 2, 12, 10, tzinfo=calendar.zone)
    assert planned_seconds(calendar, start, start + dt.timedelta(minutes=1)) == 0
    edge = dt.datetime(2026, 3, 2, 12, 29, 30, tzinfo=calendar.zone)
    assert planned_seconds(calendar, edge, edge + dt.timedelta(minutes=1)) == 30


def test_no_calendar_means_always_planned() -> None:
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    assert planned_seconds(None, start, start + dt.timedelta(minutes=1)) == 60


def test_dst_day_is_shorter() -> None:
    text = (
        "timezone: Europe/Berlin\n"
        "shifts:\n  - {name: all, days: [sun], start: '00:00', end: '24:00'}\n"
    )

    calendar = CalendarConfig.model_validate(parse_yaml(text, "c", {}).data)
    day = dt.datetime(2026, 3, 29, tzinfo=calendar.zone)  # clocks go forward at 02:00
    assert planned_seconds(calendar, day, day + dt.timedelta(days=1)) == 23 * 3600


# --- examples and online check --------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_passes_offline_check(example: str) -> None:
    console, buffer = _console()
    env = {"RV_MQTT_PASSWORD": "x", "RV_OPCUA_PASSWORD": "y"}
    code = check_config(EXAMPLES / example, True, console, env=env)
    assert code == EXIT_OK, buffer.getvalue()
    assert ": OK: agent " in buffer.getvalue()


def test_there_are_three_examples_of_each_protocol() -> None:
    protocols = set()
    for path in EXAMPLES.glob("*.yaml"):
        env = {"RV_MQTT_PASSWORD": "x", "RV_OPCUA_PASSWORD": "y"}
        protocols |= {d.protocol for d in load_config(path, env).config.devices}
    assert protocols == {"modbus_tcp", "modbus_rtu", "opcua", "s7"}


def test_online_check_reports_an_unreachable_device(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        MINIMAL.replace(
            "host: 127.0.0.1\n    tags", f"host: 127.0.0.1\n    port: {free_port()}\n    tags"
        )
    )
    console, buffer = _console()
    assert check_config(path, False, console, env={}) == EXIT_DEVICES_FAILED
    assert "connection refused" in buffer.getvalue()
    assert "1 of 1 devices failed: press-1" in buffer.getvalue()


def test_online_check_reads_every_tag_of_the_real_simulator(tmp_path: Path) -> None:
    simulator = subprocess.Popen(
        [str(Path(sys.executable).with_name("retrofit-sim")), "run", str(SIM_PLANT),
         "--modbus-port", "0", "--speed", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert simulator.stdout is not None
        ready = json.loads(simulator.stdout.readline())
        host, port = ready["modbus"].rsplit(":", 1)
        path = tmp_path / "agent.yaml"
        path.write_text(
            MINIMAL.replace(
                "host: 127.0.0.1\n    tags", f"host: {host}\n    port: {port}\n    tags"
            )
        )
        console, buffer = _console()
        assert check_config(path, False, console, env={}) == EXIT_OK, buffer.getvalue()
        table = buffer.getvalue()
        assert "state" in table and "count" in table and "good" in table
    finally:
        simulator.terminate()
        simulator.communicate(timeout=10)


def _with_port(config: str, host: str, port: int) -> str:
    return config.replace("host: 127.0.0.1\n    tags", f"host: {host}\n    port: {port}\n    tags")


class _ListSource:
    """A stand-in source returning fixed readings: probe_device's own logic is under test,
    not a protocol (the real sources have their own tests against the simulator)."""

    def __init__(self, device: DeviceConfig, readings: Sequence[Reading]) -> None:
        self.device_id = device.id
        self.readings = readings
        self.closed = False

    async def connect(self) -> None:
        return None

    async def read(self) -> Sequence[Reading]:
        return self.readings

    async def close(self) -> None:
        self.closed = True


def test_online_check_prints_readings_and_fails_on_bad_quality(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(MINIMAL)
    good = Reading("state", 2, [2], Quality.GOOD, None, 0.0, latency_s=0.004)
    bad = Reading("count", None, None, Quality.BAD, "modbus exception 2", 0.0)
    sources: list[_ListSource] = []

    def factory(device: DeviceConfig) -> _ListSource:
        sources.append(_ListSource(device, [good, bad]))
        return sources[-1]

    console, buffer = _console()
    assert check_config(path, False, console, env={}, source_factory=factory) == 3
    output = buffer.getvalue()
    assert "bad: modbus exception 2" in output and "4.0" in output
    assert sources[0].closed

    def all_good(device: DeviceConfig) -> _ListSource:
        return _ListSource(device, [good])

    assert check_config(path, False, _console()[0], env={}, source_factory=all_good) == EXIT_OK


def test_probe_device_turns_unsupported_protocol_into_a_result() -> None:
    device = parse_config(MINIMAL, "a", env={}).config.devices[0]

    def unsupported(device: DeviceConfig) -> _ListSource:
        raise UnsupportedProtocolError(device.id, device.protocol)

    probe = asyncio.run(probe_device(device, unsupported))
    assert not probe.ok
    assert probe.error == "protocol modbus_tcp is not yet supported by this agent build"


def test_rtu_example_devices_share_line_settings() -> None:
    config: AgentConfig = load_config(EXAMPLES / "energy-meter-rtu.yaml", {}).config
    rtu = [d for d in config.devices if isinstance(d, ModbusRtuDeviceConfig)]
    assert len({d.line_settings() for d in rtu}) == 1
    assert rtu[0].energy_tag() == ("import_energy", rtu[0].tags["import_energy"])
