"""``retrofit-sim``: run a simulated plant, check a plant file, print the register maps."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from contract.clock import ScaledClock
from sim.control import ControlServer
from sim.errors import PlantFileError
from sim.plant import PlantConfig, load_plant
from sim.registers import (
    MACHINE_REGISTERS,
    PATTERN_BITS_VALUE,
    STATE_CODES,
    TEST_PATTERN,
    MachineRegister,
)
from sim.retrofit import DI_INPUTS, DI_REGISTERS, METER_REGISTERS
from sim.runtime import Simulator
from sim.scripted import check_scripts

__all__ = ["app", "main"]

app = typer.Typer(
    help="Plant simulator for retrofit-verify: machines on shift calendars with counters, "
    "energy and a retrofit scenario, served over Modbus TCP/RTU and OPC UA, with faults on "
    "demand. See docs/simulator.md.",
    no_args_is_help=True,
    add_completion=False,
)
_err = Console(stderr=True)

EXIT_OK = 0
EXIT_BAD_PLANT = 2
EXIT_CANNOT_START = 3


@app.command()
def run(
    plant_file: Annotated[Path, typer.Argument(help="Plant YAML file (see sim/examples/).")],
    modbus_port: Annotated[int | None, typer.Option(help="Modbus TCP port to listen on.")] = None,
    rtu_port: Annotated[
        str | None, typer.Option(help="Serial device (or pty) to serve Modbus RTU on.")
    ] = None,
    rtu_baudrate: Annotated[int, typer.Option(help="RTU baud rate.")] = 19200,
    rtu_pty: Annotated[
        list[Path] | None,
        typer.Option(
            help="Serve Modbus RTU on a new pty pair and make LINK a symlink to its other end "
            "(a software null modem for an agent's serial_port); repeatable."
        ),
    ] = None,
    opcua_port: Annotated[int | None, typer.Option(help="OPC UA port to listen on.")] = None,
    s7_port: Annotated[
        int | None, typer.Option(help="S7 (ISO-on-TCP) port to listen on; a PLC uses 102.")
    ] = None,
    control_port: Annotated[
        int | None, typer.Option(help="Line-based TCP control port for faults.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address every server binds to.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same plant.")] = 0,
    start: Annotated[
        str | None,
        typer.Option(help="Plant time at --anchor, ISO 8601 with offset (default: now)."),
    ] = None,
    speed: Annotated[float, typer.Option(help="Plant seconds per wall second.")] = 1.0,
    anchor: Annotated[
        float | None,
        typer.Option(help="Wall time (epoch s) at which plant time is --start (default: now)."),
    ] = None,
    opcua_user: Annotated[
        list[str] | None, typer.Option(help="OPC UA login NAME:PASSWORD (repeatable).")
    ] = None,
    no_anonymous: Annotated[
        bool, typer.Option("--no-anonymous", help="Refuse anonymous OPC UA logins.")
    ] = False,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Where the OPC UA certificate is kept (default: a temp dir, removed)."),
    ] = None,
    tick: Annotated[float, typer.Option(help="Wall seconds between model updates.")] = 0.05,
    truth_bin: Annotated[
        int, typer.Option(help="Ground-truth bin in plant seconds (truth intervals align to it).")
    ] = 60,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the plant until interrupted; print one JSON 'ready' line on stdout once serving."""
    _setup_logging(log_level)
    plant = _load_or_exit(plant_file)
    anchor_ts = time.time() if anchor is None else anchor
    start_dt = _parse_start(start) if start else datetime.fromtimestamp(anchor_ts, UTC)
    if speed <= 0:
        _fail(EXIT_CANNOT_START, f"--speed must be > 0, got {speed}")
    if truth_bin <= 0:
        _fail(EXIT_CANNOT_START, f"--truth-bin must be > 0, got {truth_bin}")
    users = dict(_parse_user(entry) for entry in opcua_user or [])
    clock = ScaledClock(start=start_dt, anchor=anchor_ts, speed=speed)
    with tempfile.TemporaryDirectory(prefix="retrofit-sim-") as scratch:
        sim = Simulator(
            plant,
            clock=clock,
            seed=seed,
            start_ts=start_dt.timestamp(),
            host=host,
            modbus_port=modbus_port,
            rtu_port=rtu_port,
            rtu_baudrate=rtu_baudrate,
            rtu_links=rtu_pty or (),
            opcua_port=opcua_port,
            opcua_users=users,
            opcua_anonymous=not no_anonymous,
            s7_port=s7_port,
            work_dir=work_dir or Path(scratch),
            tick_s=tick,
            truth_bin_s=truth_bin,
        )
        try:
            asyncio.run(_serve(sim, host, control_port, anchor_ts, start_dt, speed, rtu_pty or []))
        except (OSError, RuntimeError) as exc:
            _fail(EXIT_CANNOT_START, f"cannot start the simulator: {exc}")


@app.command()
def check(plant_file: Annotated[Path, typer.Argument(help="Plant YAML file.")]) -> None:
    """Validate a plant file; print every problem with its line, exit 2 if there is one."""
    plant = _load_or_exit(plant_file)
    Console().print(f"{plant_file}: ok, {len(plant.machines)} machines")


@app.command()
def registers() -> None:
    """Print the Modbus register maps (machine, retrofit meter and DI module, test pattern)."""
    console = Console()
    console.print(_register_table("Machine map (holding FC3 = input FC4)", MACHINE_REGISTERS))
    console.print(_register_table("Retrofit power meter (input FC4 only)", METER_REGISTERS))
    console.print(_register_table("Retrofit DI module counters (holding FC3)", DI_REGISTERS))
    inputs = ", ".join(f"{i.address}={i.name}" for i in DI_INPUTS)
    console.print(f"DI module discrete inputs (FC2): {inputs}")
    codes = ", ".join(f"{code}={state.value}" for state, code in STATE_CODES.items())
    console.print(f"state codes: {codes}")
    pattern = Table(title="Test-pattern device (holding FC3 = input FC4)")
    for column in ("address", "registers", "name", "type", "byte", "word", "value"):
        pattern.add_column(column, no_wrap=column == "name", overflow="fold")
    for entry in TEST_PATTERN:
        pattern.add_row(
            str(entry.address),
            str(entry.count),
            entry.name,
            entry.dtype,
            entry.byte_order,
            entry.word_order,
            repr(entry.value),
        )
    console.print(pattern)
    bits_address = TEST_PATTERN[-1].address + TEST_PATTERN[-1].count
    console.print(f"bits register at {bits_address}: 0x{PATTERN_BITS_VALUE:04X}")


def _register_table(title: str, specs: tuple[MachineRegister, ...]) -> Table:
    table = Table(title=title)
    for column in ("address", "registers", "name", "type", "unit", "meaning"):
        table.add_column(column, no_wrap=column == "name", overflow="fold")
    for spec in specs:
        table.add_row(
            str(spec.address), str(spec.count), spec.name, spec.kind, spec.unit, spec.description
        )
    return table


async def _serve(
    sim: Simulator,
    host: str,
    control_port: int | None,
    anchor_ts: float,
    start_dt: datetime,
    speed: float,
    rtu_pty_links: list[Path],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    control = ControlServer(sim, host, control_port) if control_port is not None else None
    async with sim:
        if control is not None:
            await control.start()
        ready = {
            "event": "ready",
            "modbus": f"{host}:{sim.modbus_address[1]}" if sim.modbus_address else None,
            "opcua": sim.opcua.endpoint if sim.opcua else None,
            "s7": f"{host}:{sim.s7_address[1]}" if sim.s7_address else None,
            "rtu_pty": [str(link) for link in rtu_pty_links],
            "control": f"{host}:{control_port}" if control_port is not None else None,
            "start": start_dt.isoformat(),
            "anchor": anchor_ts,
            "speed": speed,
        }
        # The one line on stdout: scripts wait for it to know every port is open.
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await stop.wait()
        if control is not None:
            await control.stop()


def _load_or_exit(plant_file: Path) -> PlantConfig:
    try:
        plant = load_plant(plant_file)
        check_scripts(plant)  # a scripted machine's CSV is part of the plant (ScriptError)
        return plant
    except PlantFileError as exc:
        for problem in exc.problems:
            _err.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_PLANT) from None


def _parse_start(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        _fail(EXIT_CANNOT_START, f"--start {text!r} is not ISO 8601, e.g. 2026-03-02T06:00+08:00")
    if parsed.tzinfo is None:
        _fail(EXIT_CANNOT_START, f"--start {text!r} needs a UTC offset, e.g. +08:00")
    return parsed


def _parse_user(entry: str) -> tuple[str, str]:
    name, sep, password = entry.partition(":")
    if not sep or not name:
        _fail(EXIT_CANNOT_START, f"--opcua-user {entry!r}: expected NAME:PASSWORD")
    return name, password


def _fail(code: int, message: str) -> NoReturn:
    _err.print(message, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=_err, show_path=False)],
    )
    # asyncua and pymodbus log every node added and every listener at INFO: noise for an operator.
    for noisy in ("asyncua", "pymodbus"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def main() -> None:
    """Entry point of the ``retrofit-sim`` script."""
    app()


if __name__ == "__main__":
    main()
