"""The ``retrofit-agent probe`` command group; ``agent/cli.py`` adds it with :func:`register`.

The implementations are imported inside the commands: pymodbus and asyncua take about half a
second each to import (snap7 less, but the same rule), which every other ``retrofit-agent``
command should not pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .options import DEFAULT_DEPTH, DEFAULT_READ

__all__ = ["register"]

probe_app = typer.Typer(
    name="probe",
    help="Discover what a device offers, for an installer writing the agent's configuration.",
    no_args_is_help=True,
    add_completion=False,
)


@probe_app.command("modbus")
def modbus_command(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="HOST[:PORT]",
            help="Modbus TCP device (port 502 by default); leave out with --rtu.",
            show_default=False,
        ),
    ] = None,
    unit: Annotated[int, typer.Option("--unit", "-u", help="Unit (slave) id, 0..255.")] = 1,
    reads: Annotated[
        list[str] | None,
        typer.Option(
            "--read",
            "-r",
            metavar="TABLE:FIRST-LAST",
            help=(
                "Addresses to read, 0-based, repeatable: holding:0-20, input:100-110, coil:0-15, "
                f"discrete_input:0-7. Default {DEFAULT_READ}."
            ),
            show_default=False,
        ),
    ] = None,
    as_type: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="TYPE",
            help=(
                "Decode consecutive registers as int16, uint16, int32, uint32, int64, uint64, "
                "float32, float64 or string (the whole range). Without it: hex, uint16, int16, "
                "text and float32 in both word orders for each register pair."
            ),
            show_default=False,
        ),
    ] = None,
    byte_order: Annotated[
        str, typer.Option("--byte-order", help="Byte order inside a register: big or little.")
    ] = "big",
    word_order: Annotated[
        str,
        typer.Option("--word-order", help="Register order of --as values: big or little."),
    ] = "big",
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the connect and each answer.")
    ] = 1.0,
    rtu: Annotated[
        str | None,
        typer.Option("--rtu", metavar="SERIAL_PORT", help="Modbus RTU on this serial port."),
    ] = None,
    baudrate: Annotated[int, typer.Option("--baud", help="RTU baud rate.")] = 19200,
    parity: Annotated[str, typer.Option("--parity", help="RTU parity: none, even or odd.")] = (
        "even"
    ),
    stop_bits: Annotated[int, typer.Option("--stop-bits", help="RTU stop bits: 1 or 2.")] = 1,
) -> None:
    """Read register or bit ranges of a Modbus TCP or RTU device and print them as tables.

    A range touching undefined addresses is re-read address by address to show which exist.

    Exit codes: 0 the device answered, 2 usage error, 3 device unreachable or every read failed.
    """
    from .modbus import probe_modbus

    code = probe_modbus(
        target,
        unit,
        reads or [],
        as_type,
        byte_order,
        word_order,
        timeout_s,
        Console(),
        rtu=rtu,
        baudrate=baudrate,
        parity=parity,
        stop_bits=stop_bits,
    )
    raise typer.Exit(code)


@probe_app.command("opcua")
def opcua_command(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="Endpoint, e.g. opc.tcp://192.168.20.11:4840.")
    ],
    browse: Annotated[
        str | None,
        typer.Option(
            "--browse",
            "-b",
            metavar="PATH",
            help=(
                "Start at this browse path from Objects (2:Plant/2:cnc-1; namespace indexes "
                "optional) or node id (ns=2;s=cnc-1) instead of the Objects folder."
            ),
            show_default=False,
        ),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", "-d", help="Levels to walk below the start node.")
    ] = DEFAULT_DEPTH,
    emit_tags: Annotated[
        bool,
        typer.Option(
            "--tags",
            help="Print a tags: block for the agent config (one info tag per variable) instead.",
        ),
    ] = False,
    username: Annotated[
        str | None, typer.Option("--user", help="Log in with this user name (with --password).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="RV_OPCUA_PASSWORD",
            help="Password for --user; better from the environment variable.",
            show_default=False,
        ),
    ] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the session and each call.")
    ] = 5.0,
) -> None:
    """Walk an OPC UA server's node tree and print variables with type, value and status.

    Security policy None only (anonymous, or --user/--password): enough to see what a server
    offers. For a server that accepts only signed or encrypted sessions, configure the device
    with Basic256Sha256 and read it with check-config.

    Exit codes: 0 browsed, 2 usage error, 3 server unreachable, session refused or no such node.
    """
    from .opcua import probe_opcua

    # --password from RV_OPCUA_PASSWORD must not turn an anonymous probe into a failed login.
    code = probe_opcua(
        url,
        browse,
        depth,
        emit_tags,
        username,
        password if username is not None else None,
        Console(),
        timeout_s=timeout_s,
    )
    raise typer.Exit(code)


@probe_app.command("s7")
def s7_command(
    target: Annotated[
        str,
        typer.Argument(metavar="HOST[:PORT]", help="S7 PLC (ISO-on-TCP port 102 by default)."),
    ],
    read: Annotated[
        str,
        typer.Option(
            "--read",
            "-r",
            metavar="AREA:FIRST-LAST",
            help="Bytes to read: db10:0-31 (data block 10), m:0-15, i:0-3 or q:0-3.",
        ),
    ] = "db1:0-31",
    rack: Annotated[int, typer.Option("--rack", help="Rack, 0..7.")] = 0,
    slot: Annotated[
        int, typer.Option("--slot", help="CPU slot: 1 for S7-1200/1500, 2 for S7-300.")
    ] = 1,
    connection_type: Annotated[
        str, typer.Option("--type", help="Connection type asked of the CPU: pg, op or basic.")
    ] = "op",
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the connect and each answer.")
    ] = 2.0,
) -> None:
    """Read a byte range of an S7 data block, M, I or Q and show each offset under every type.

    Exit codes: 0 the PLC answered, 2 usage error, 3 PLC unreachable or every read refused
    (the message names the usual causes: PUT/GET access off, an optimized block).
    """
    from .s7 import probe_s7

    code = probe_s7(
        target,
        read,
        Console(),
        rack=rack,
        slot=slot,
        connection_type=connection_type,
        timeout_s=timeout_s,
    )
    raise typer.Exit(code)


@probe_app.command("state")
def state_command(
    config: Annotated[
        Path, typer.Argument(metavar="CONFIG", help="The agent's configuration file.")
    ],
    device: Annotated[
        str, typer.Option("--device", "-d", metavar="ID", help="The configured device to watch.")
    ],
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds", help="Wall seconds to watch the machine for (at most 1200 readings)."
        ),
    ] = 60.0,
    interval_s: Annotated[
        float, typer.Option("--interval", help="Wall seconds between readings.")
    ] = 0.5,
) -> None:
    """Watch a device's power (or current) while the machine runs
    through off, idle and running; print a histogram and a state: block
    to paste (thresholds between the levels seen).

    Exit codes: 0 readings taken (fewer than three levels: a partial
    block or none, and advice), 2 usage error or invalid configuration,
    3 no usable reading.
    """
    from .state import probe_state

    raise typer.Exit(probe_state(config, device, seconds, interval_s, Console()))


def register(app: typer.Typer) -> None:
    """Add the ``probe`` command group (``probe modbus``, ``opcua``, ``s7`` and ``state``)."""
    app.add_typer(probe_app, name="probe")
