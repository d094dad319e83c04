"""``retrofit-agent probe`` against the real plant simulator: Modbus TCP/RTU and OPC UA.

The probe functions are synchronous (each runs its own ``asyncio.run``, as the CLI calls them),
so the simulator runs on an event loop in a background thread for the tests of this module: one
simulator with the Modbus test-pattern unit, a Modbus machine and an OPC UA machine, started once
(about 1.5 s) and standing still (``tick_s=0``), so every expected value comes from ``sim``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import textwrap
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from agent.config import parse_config
from agent.probe import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE, register
from agent.probe.modbus import probe_modbus
from agent.probe.opcua import probe_opcua
from agent.probe.opcua_browse import BrowsedNode
from agent.probe.opcua_tags import suggest_role, tags_yaml
from contract.clock import ScaledClock
from sim.opcua_server import OPCUA_VARIABLES
from sim.registers import (
    DISCRETE_INPUT_PATTERN,
    PATTERN_BITS_VALUE,
    TEST_PATTERN,
    PatternValue,
)
from sim.runtime import Simulator
from stack import free_port
from tests.pty import relay
from tests.sim.plants import machine, plant

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PATTERN_UNIT = 247
T = TypeVar("T")


class ThreadedLoop:
    """An event loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@contextlib.contextmanager
def serving(simulator: Simulator, pty_masters: tuple[int, int] | None = None) -> Iterator[None]:
    """Run ``simulator`` (and a pty relay for RTU) on a background loop while inside."""
    threaded = ThreadedLoop()
    stack = contextlib.AsyncExitStack()

    async def enter() -> None:
        if pty_masters is not None:
            await stack.enter_async_context(relay(*pty_masters))
        await stack.enter_async_context(simulator)

    try:
        threaded.run(enter())
        yield
    finally:
        threaded.run(stack.aclose())
        threaded.close()


def _clock() -> ScaledClock:
    return ScaledClock(start=START, anchor=time.time(), speed=60.0)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The pattern unit 247, Modbus machine press-1 (unit 1) and OPC UA machine cnc-1."""
    simulator = Simulator(
        plant(
            machine(id="press-1", unit_id=1, cycle_s=5),
            machine(id="cnc-1", protocol="opcua", unit_id=None, cycle_s=10),
            test_pattern_unit=PATTERN_UNIT,
        ),
        clock=_clock(),
        seed=3,
        start_ts=START.timestamp(),
        modbus_port=0,
        opcua_port=free_port(),
        opcua_users={"op": "secret"},
        work_dir=tmp_path_factory.mktemp("sim"),
        tick_s=0,
    )
    with serving(simulator):
        yield simulator


def console() -> Console:
    """A wide console writing to memory: no wrapped cells in assertions."""
    return Console(file=io.StringIO(), width=250, color_system=None)


def text_of(out: Console) -> str:
    assert isinstance(out.file, io.StringIO)
    return out.file.getvalue()


def target(sim: Simulator) -> str:
    assert sim.modbus_address is not None
    host, port = sim.modbus_address
    return f"{host}:{port}"


def pattern(name: str) -> PatternValue:
    return next(entry for entry in TEST_PATTERN if entry.name == name)


def span(entry: PatternValue) -> str:
    return f"holding:{entry.address}-{entry.address + entry.count - 1}"


def run_modbus(
    sim: Simulator,
    *reads: str,
    unit: int = PATTERN_UNIT,
    as_type: str | None = None,
    byte_order: str = "big",
    word_order: str = "big",
    timeout_s: float = 1.0,
) -> tuple[int, str]:
    out = console()
    code = probe_modbus(
        target(sim), unit, list(reads), as_type, byte_order, word_order, timeout_s, out
    )
    return code, text_of(out)


# -- Modbus -----------------------------------------------------------------------------------


def test_overview_shows_each_register_and_both_float_word_orders(sim: Simulator) -> None:
    int16, uint16 = pattern("int16_bb"), pattern("uint16_bb")
    big, little = pattern("float32_bb_wb"), pattern("float32_bb_wl")
    code, text = run_modbus(sim, "holding:0-3", f"holding:{big.address}-{little.address + 1}")
    assert code == EXIT_OK
    assert "CFC7" in text and str(int16.value) in text  # raw hex and int16 of register 0
    assert str(uint16.value) in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    # Register pairs from the range start: the big word order pair reads sane in ABCD, the
    # little one in CDAB, each as -1234.562 (float32 shown with 7 digits).
    assert rows[str(big.address)].split("│")[6].strip() == "-1234.562"
    assert rows[str(little.address)].split("│")[7].strip() == "-1234.562"


@pytest.mark.parametrize(
    ("name", "as_type", "byte_order", "word_order", "shown"),
    [
        ("int32_bb_wl", "int32", "big", "little", "-123456789"),
        ("uint32_bl_wb", "uint32", "little", "big", "3456789012"),
        ("int64_bl_wl", "int64", "little", "little", "-1234567890123456789"),
        ("float64_bb_wl", "float64", "big", "little", "98765.4321"),
        ("string_bl", "string", "little", "big", "'RETROFIT-SIM'"),
    ],
)
def test_as_type_decodes_the_pattern_in_its_orders(
    sim: Simulator, name: str, as_type: str, byte_order: str, word_order: str, shown: str
) -> None:
    entry = pattern(name)
    assert str(entry.value) in shown  # the expected text is the simulator's value
    code, text = run_modbus(
        sim, span(entry), as_type=as_type, byte_order=byte_order, word_order=word_order
    )
    assert code == EXIT_OK
    last = entry.address + entry.count - 1
    rows = [line.split("│") for line in text.splitlines() if "│" in line]
    assert [row[3].strip() for row in rows if row[1].strip() == f"{entry.address}..{last}"] == [
        shown
    ]


def test_bits_print_in_rows_first_address_leftmost(sim: Simulator) -> None:
    code, text = run_modbus(sim, "discrete_input:0-15")
    assert code == EXIT_OK
    bits = "".join("1" if bit else "0" for bit in DISCRETE_INPUT_PATTERN)
    assert " ".join(bits[i : i + 4] for i in range(0, 16, 4)) in text


def test_a_hole_in_the_map_shows_the_exception_for_exactly_its_addresses(sim: Simulator) -> None:
    last_defined = pattern("string_bl").address + pattern("string_bl").count  # the bits word
    code, text = run_modbus(sim, f"input:{last_defined - 1}-{last_defined + 3}")
    assert code == EXIT_OK  # the device answered: some addresses exist
    assert f"{PATTERN_BITS_VALUE:04X}" in text
    hole = next(line for line in text.splitlines() if "exception" in line)
    assert hole.split("│")[1].strip() == f"{last_defined + 1}..{last_defined + 3}"
    assert "modbus exception 2 (illegal data address)" in hole


def test_every_read_failing_exits_3_with_the_reason(sim: Simulator) -> None:
    code, text = run_modbus(sim, "holding:40001-40004")
    assert code == EXIT_DEVICE_FAILED
    assert "modbus exception 2 (illegal data address)" in text
    assert "holding 0" in text  # the hint about manuals numbering from 40001


def test_a_silent_unit_is_reported_as_unreachable(sim: Simulator) -> None:
    code, text = run_modbus(sim, "holding:0-3", unit=99, timeout_s=0.3)
    assert code == EXIT_DEVICE_FAILED
    assert "timeout" in text and "--unit" in text
    assert "Traceback" not in text


def test_rtu_probe_reads_the_pattern_over_a_pty(pty_pair: tuple[int, int, str, str]) -> None:
    master_a, master_b, server_end, client_end = pty_pair
    simulator = Simulator(
        plant(machine(id="press-1", unit_id=1), test_pattern_unit=PATTERN_UNIT),
        clock=_clock(),
        start_ts=START.timestamp(),
        rtu_port=server_end,
        rtu_baudrate=19200,
        tick_s=0,
    )
    entry = pattern("uint32_bb_wb")
    with serving(simulator, (master_a, master_b)):
        out = console()
        code = probe_modbus(
            None, PATTERN_UNIT, [span(entry)], "uint32", "big", "big", 1.0, out,
            rtu=client_end, baudrate=19200, parity="none",
        )  # fmt: skip
    assert code == EXIT_OK, text_of(out)
    assert str(entry.value) in text_of(out)


# -- the CLI hook -----------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # a group, as retrofit-agent is
        pass

    register(app)
    return app


def test_unreachable_port_exits_3_without_traceback() -> None:
    port = free_port()
    result = CliRunner().invoke(cli(), ["probe", "modbus", f"127.0.0.1:{port}", "-r", "coil:0-7"])
    assert result.exit_code == EXIT_DEVICE_FAILED, result.output
    assert "connection refused" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "arguments",
    [
        ["probe", "modbus", "127.0.0.1", "-r", "holding:20-10"],
        ["probe", "modbus", "127.0.0.1", "-r", "registers:0-10"],
        ["probe", "modbus", "127.0.0.1", "--as", "float"],
        ["probe", "modbus", "--unit", "1"],  # neither a host nor --rtu
        ["probe", "opcua", "http://127.0.0.1:4840"],
        ["probe", "opcua", "opc.tcp://127.0.0.1:4840", "--user", "op"],  # no password
    ],
)
def test_usage_errors_exit_2_and_say_what_is_expected(arguments: list[str]) -> None:
    result = CliRunner().invoke(cli(), arguments, env={"RV_OPCUA_PASSWORD": ""})
    assert result.exit_code == EXIT_USAGE, result.output
    assert "expected" in result.output


# -- OPC UA -----------------------------------------------------------------------------------


def endpoint(sim: Simulator) -> str:
    assert sim.opcua is not None
    return sim.opcua.endpoint


def test_browse_lists_machines_and_variables_with_values(sim: Simulator) -> None:
    out = console()
    code = probe_opcua(endpoint(sim), None, 4, False, "op", "secret", out)
    text = text_of(out)
    assert code == EXIT_OK, text
    assert "2:Plant" in text and "2:cnc-1  ns=2;s=cnc-1" in text
    values = sim.values("cnc-1")
    for variable in OPCUA_VARIABLES:
        line = next(row for row in text.splitlines() if f"2:{variable.name} " in row)
        assert f"ns=2;s=cnc-1.{variable.name}" in line
        assert line.rstrip().endswith("good")
        if variable.name in ("State", "TotalCount", "RejectCount"):  # exact integers
            assert f"= {values[variable.signal]} " in line
    assert "Server" in text  # said to be skipped, not walked
    assert "ServerStatus" not in text


def test_tags_block_is_a_valid_config_once_indented(sim: Simulator) -> None:
    out = console()
    code = probe_opcua(endpoint(sim), "2:Plant/cnc-1", 2, True, None, None, out)
    block = text_of(out)
    assert code == EXIT_OK, block
    assert "suggested role: total_count (add width: 32)" in block
    loaded = parse_config(config_with(block, endpoint(sim)), "agent.yaml")
    device = loaded.config.devices[0]
    tags = dict(device.tag_items())
    assert set(tags) == {variable.name for variable in OPCUA_VARIABLES}
    assert getattr(tags["TotalCount"], "node", None) == "ns=2;s=cnc-1.TotalCount"
    assert all(tag.role.value == "info" for tag in tags.values())


def test_a_browse_path_that_does_not_exist_exits_3(sim: Simulator) -> None:
    out = console()
    code = probe_opcua(endpoint(sim), "2:Plant/2:no-such-machine", 2, False, None, None, out)
    assert code == EXIT_DEVICE_FAILED
    assert "no node at '2:Plant/2:no-such-machine'" in text_of(out)


def test_a_refused_login_exits_3_with_the_status_name(sim: Simulator) -> None:
    out = console()
    code = probe_opcua(endpoint(sim), None, 1, False, "op", "wrong", out, timeout_s=2)
    assert code == EXIT_DEVICE_FAILED
    assert "BadUserAccessDenied" in text_of(out)


def config_with(block: str, url: str) -> str:
    """A minimal agent config with ``block`` pasted under one OPC UA device."""
    return (
        "agent: {id: gw-01, platform: plat-a, enterprise: ent-01, key_path: k, outbox_path: o}\n"
        "broker: {host: 127.0.0.1}\n"
        "devices:\n"
        f"  - id: cell-1\n    protocol: opcua\n    endpoint: {url}\n"
        + textwrap.indent(block, "    ")
    )


def test_tags_block_names_awkward_browse_names_validly() -> None:
    root = BrowsedNode("2:Line", "ns=2;s=Line", "Object")
    for index, (name, value) in enumerate(
        [("2024", 1), ("on", True), ("Temp °C", 21.5), ("温度", 3.0), ("Temp_C", 2.0)]
    ):
        variable = BrowsedNode(f"2:{name}", f"ns=2;s=Line.{index}", "Variable", ("Line", name))
        variable.data_type, variable.value = "Double", value
        root.children.append(variable)
    array = BrowsedNode("2:Profile", 'ns=2;s="Line"."Profile"', "Variable", ("Line", "Profile"))
    array.data_type, array.value = "Double", [1.0, 2.0]
    root.children.append(array)
    block = tags_yaml(root, "opc.tcp://plc:4840")
    loaded = parse_config(config_with(block, "opc.tcp://plc:4840"), "agent.yaml")
    tags = dict(loaded.config.devices[0].tag_items())
    assert list(tags) == ["2024", "on", "Temp__C", "tag4", "Temp_C"]
    assert "# skipped 2:Profile" in block


@pytest.mark.parametrize(
    ("name", "data_type", "role"),
    [
        ("PartCount", "UInt32", "total_count (add width: 32)"),
        ("ScrapCount", "UInt16", "reject_count (add width: 16)"),
        ("GoodParts", "Int64", "good_count (add width: 64)"),
        ("MachineState", "Int32", "state"),
        ("TotalEnergy_kWh", "Double", "energy_kwh"),
        ("SpindlePower", "Float", "power_kw"),
        ("LastCycleTime", "Double", "cycle_time_s"),
        ("PartCount", "Double", None),  # a float is no counter the agent accepts
        ("Program", "String", None),
    ],
)
def test_role_suggestions_from_names_and_types(name: str, data_type: str, role: str | None) -> None:
    suggestion = suggest_role(name, data_type)
    if role is None:
        assert suggestion is None
    else:
        assert suggestion is not None and suggestion.startswith(role)
