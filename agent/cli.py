"""``retrofit-agent``: the edge agent's command line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from agent import __version__
from agent.importing import register as register_import
from agent.keys import KeyFileError, generate_key_pair, public_key_path
from agent.probe import register as register_probe
from contract.logs import configure_logging

if TYPE_CHECKING:
    from rich.table import Table

    from agent.day_ledger import DeviceSeals

__all__ = ["app", "main"]

app = typer.Typer(
    name="retrofit-agent",
    help=(
        "Edge agent for retrofit-verify: reads equipment over Modbus, OPC UA and S7, turns it into "
        "signed KPI windows and sends them to the collector over MQTT."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    configure_logging(verbose)


@app.command()
def version() -> None:
    """Print the agent's version."""
    console.print(f"retrofit-agent {__version__}")


@app.command()
def keygen(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Private key file to write; the public key goes to OUT.pub."
        ),
    ] = Path("agent.key"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key pair (a new identity).")
    ] = False,
) -> None:
    """Create the agent's Ed25519 key pair and print the public key for the registry.

    The private key file is created with mode 0600. Exit code 1 if a key already exists
    and --force is not given, or the files cannot be written.
    """
    try:
        public_text = generate_key_pair(out, force=force)
    except KeyFileError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"private key: {out} (mode 600)")
    console.print(f"public key:  {public_key_path(out)}")
    console.print("Register this public key with the collector:")
    # Printed plainly on its own line so scripts can take it with `tail -n 1`.
    print(public_text)


@app.command("check-config")
def check_config_command(
    config: Annotated[Path, typer.Argument(help="The agent's YAML configuration file.")],
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Only validate the file; do not connect to devices."),
    ] = False,
) -> None:
    """Validate a configuration; without --offline also read every tag of every device once.

    Exit codes: 0 valid (and every device answered with good values), 1 configuration
    errors (all printed with file, line and key path), 2 the file cannot be read,
    3 a device is unreachable or returned bad values.
    """
    from agent.checkconfig import check_config

    raise typer.Exit(check_config(config, offline, console))


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The agent's YAML configuration file.")],
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            help="Serve Prometheus /metrics and /healthz on 127.0.0.1:PORT (0 picks one).",
        ),
    ] = None,
    health_file: Annotated[
        Path | None,
        typer.Option("--health-file", help="Write the health document here every 5 s."),
    ] = None,
) -> None:
    """Run the agent: poll devices, close KPI windows, store and publish them until SIGTERM.

    Exit codes: 0 after a clean stop, 1 if the configuration has errors, 2 if the file
    cannot be read, 4 if the key, the outbox or a device protocol cannot be used (or another
    process holds the outbox), 5 if the agent was retired (``retrofit-agent retire``).
    """
    from agent.run import run_lean

    # The console script runs `run` through agent.entry without this CLI's libraries; this
    # command exists for --help and for `python -m`-style callers of agent.cli.
    argv = [str(config)]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    if health_file is not None:
        argv += ["--health-file", str(health_file)]
    raise typer.Exit(run_lean(argv))


@app.command()
def retire(
    config: Annotated[Path, typer.Argument(help="The stopped agent's YAML configuration file.")],
    timeout_s: Annotated[
        float,
        typer.Option("--timeout", help="Seconds to wait for the broker's acknowledgements."),
    ] = 60.0,
) -> None:
    """Retire a stopped agent for good: seal its days (today's as it stands), send, never run.

    For a gateway switched off for good, or an agent id retired at a key rotation. Stop the
    agent first; retire connects to the broker itself. Irreversible: `run` then refuses the
    outbox (exit 5). Exit codes: 0 retired and everything acknowledged, 1/2 configuration
    errors as check-config, 3 retired but not everything acknowledged in time (run retire
    again), 4 no outbox, an agent running on it, or the key or outbox unusable.
    """
    import asyncio
    from datetime import UTC, datetime

    from agent.errors import AgentError
    from agent.outbox import OutboxError
    from agent.retire import EXIT_NOT_ACKED, EXIT_REFUSED, retire_agent
    from contract.configfile.console import print_issues
    from contract.errors import ConfigFileError, ConfigInvalidError, ContractError
    from contract.terminal import say

    try:
        report = asyncio.run(retire_agent(config, timeout_s))
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(err_console, exc.issues)
        raise typer.Exit(2 if isinstance(exc, ConfigFileError) else 1) from None
    except (AgentError, ContractError, OutboxError, FileNotFoundError) as exc:
        say(err_console, f"error: {exc}", "red")
        raise typer.Exit(EXIT_REFUSED) from None
    when = datetime.fromtimestamp(report.retired_ms / 1000, UTC).isoformat(timespec="seconds")
    console.print(
        f"agent retired at {when} (plant clock): {report.batches} window batches and "
        f"{report.seals} day seals issued now",
        highlight=False,
        soft_wrap=True,
    )
    if report.unsealed_days:
        say(err_console, f"warning: {report.unsealed_days} device-days could not be sealed "
            "(see the log)", "yellow")  # fmt: skip
    if report.unacknowledged:
        unacked = report.unacknowledged - report.awaiting_confirmation
        awaiting = report.awaiting_confirmation
        left = (f"{unacked} messages not acknowledged by the broker and {awaiting} not "
                "confirmed stored by the collector within ")  # fmt: skip
        say(err_console, f"{left}{timeout_s:g} s: they stay in the outbox; run retire again "
            f"(last error: {report.last_error or '-'})", "yellow")  # fmt: skip
        raise typer.Exit(EXIT_NOT_ACKED)
    confirmed = " and confirmed stored by the collector" if report.confirmed else ""
    console.print(f"every window and day seal acknowledged by the broker{confirmed}",
                  highlight=False, soft_wrap=True)  # fmt: skip


#: Largest health file ``status`` reads: the agent writes a few kB per device.
MAX_HEALTH_BYTES = 1024 * 1024


def _read_health(path: Path) -> dict[str, Any]:
    """The health file as JSON; exit 2 with the reason if it cannot be read as one."""
    import json

    from contract.errors import InputFileError
    from contract.files import read_bounded
    from contract.terminal import say

    try:
        health = json.loads(read_bounded(path, MAX_HEALTH_BYTES, expected="a health JSON file"))
    except InputFileError as exc:
        say(err_console, f"error: {exc}", "red")
        raise typer.Exit(2) from None
    except ValueError as exc:
        say(err_console, f"error: {path}: not a health file: {exc}", "red")
        raise typer.Exit(2) from None
    if not isinstance(health, dict):
        say(err_console, f"error: {path}: not a health file: expected a JSON object", "red")
        raise typer.Exit(2)
    return health


@app.command()
def status(
    config: Annotated[Path, typer.Argument(help="The agent's YAML configuration file.")],
    health_file: Annotated[
        Path | None,
        typer.Option("--health-file", help="The running agent's health file, if it writes one."),
    ] = None,
) -> None:
    """Show the outbox (depth, age, next seq) and, from the health file, broker and devices.

    Reads the files only; works whether or not the agent is running. Exit code 0, or 1/2 for
    configuration errors as check-config, 2 for a health file that cannot be read as one.
    """
    import time

    from rich.table import Table

    from agent.config import load_config
    from agent.outbox import Outbox
    from contract.configfile.console import print_issues
    from contract.errors import ConfigFileError, ConfigInvalidError

    try:
        loaded = load_config(config)
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(err_console, exc.issues)
        raise typer.Exit(2 if isinstance(exc, ConfigFileError) else 1) from None
    outbox_path = loaded.config.agent.outbox_path
    if not outbox_path.exists():
        console.print(f"no outbox at {outbox_path}: the agent has not run yet")
    else:
        outbox = Outbox(outbox_path)
        stats = outbox.stats()
        retired_ms = outbox.retired_ms()
        agent = loaded.config.agent
        seals = outbox.day_seals(
            now=loaded.config.make_clock().timestamp(),
            grace_s=agent.seal_grace_s,
            devices=[device.id for device in loaded.config.devices],
        )
        outbox.close()
        table = Table(title=f"outbox {outbox_path}")
        table.add_column("what")
        table.add_column("value", justify="right")
        age = (
            f"{time.time() - stats.oldest_pending_end_ms / 1000:.0f} s"
            if stats.oldest_pending_end_ms
            else "-"
        )
        for label, value in (
            ("windows pending", stats.pending_windows),
            ("batches awaiting PUBACK", stats.sealed_batches - stats.awaiting_confirmation),
            ("batches awaiting the collector's confirmation", stats.awaiting_confirmation),
            ("  of which day seals", stats.sealed_day_seals),
            ("windows sent, not yet in their day ledger", stats.unfolded_windows),
            ("oldest pending window ended", age + " ago" if age != "-" else age),
            ("next seq", stats.next_seq),
            ("windows merged (outbox full)", stats.merged_total),
            ("windows dropped (outbox full)", stats.dropped_total),
            ("full", "YES" if stats.full else "no"),
            ("retired (retrofit-agent retire)", _retired_text(retired_ms)),
        ):
            table.add_row(label, str(value))
        console.print(table)
        console.print(_day_seals_table(seals, agent.timezone))
    if health_file is not None and health_file.exists():
        health = _read_health(health_file)
        console.print(
            f"broker connected: {health.get('broker_connected')}, "
            f"last error: {health.get('last_error') or '-'}"
        )
        devices = Table(title="devices")
        columns = ("device", "polls", "skipped", "missed", "bad values", "windows", "last error")
        for column in columns:
            devices.add_column(column)
        for device_id, device in health.get("devices", {}).items():
            devices.add_row(
                device_id,
                str(device.get("polls")),
                str(device.get("polls_skipped", "-")),
                str(device.get("missed_polls")),
                str(device.get("bad_values")),
                str(device.get("windows_closed")),
                str(device.get("last_error") or "-"),
            )
        console.print(devices)


def _retired_text(retired_ms: int | None) -> str:
    from datetime import UTC, datetime

    if retired_ms is None:
        return "no"
    return datetime.fromtimestamp(retired_ms / 1000, UTC).isoformat(timespec="seconds")


def _day_seals_table(seals: Mapping[str, DeviceSeals], zone: str) -> Table:
    """One row per device: the newest sealed day, and each day waiting with what it waits for."""
    from rich.table import Table

    table = Table(title=f"day seals (days in {zone})")
    for column in ("device", "newest sealed day", "days waiting"):
        table.add_column(column)
    for device, report in seals.items():
        newest = (
            f"{report.newest_day} (v{report.newest_version})" if report.newest_day else "none yet"
        )
        waiting = ", ".join(f"{day} ({why})" for day, why in sorted(report.waiting.items()))
        table.add_row(device, newest, waiting or "-")
    return table


# Commands that live in their own packages; each adds itself (imports there stay lazy).
register_probe(app)
register_import(app)


def main() -> None:
    """Console-script entry point."""
    app()
