"""``retrofit-collector quarantine``: the messages the ingest rejected.

Every command takes the collector's configuration, ``--config PATH`` (or
``RV_COLLECTOR_CONFIG``), and works on the registry it names (the old ``--registry PATH`` still
works, with a warning). Exit codes: 0 done, 1 refused (not found, a bad --since, an invalid
configuration), 2 the configuration cannot be read, the registry opened or the export file
written. A quarantined message's topic and bytes are hostile input: printed through
:func:`contract.terminal.say` (escaped) and as hex.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    EXIT_ERRORS,
    EXIT_UNREADABLE,
    ConfigOption,
    RegistryOption,
    console,
    count,
    err_console,
    open_registry,
    refuse,
    registry_path,
)
from collector.registry.records import QuarantineEntry, format_time
from contract.terminal import say

__all__ = ["register"]

#: Bytes of a quarantined message ``quarantine show`` prints as hex.
PREVIEW_BYTES = 512

quarantine_app = typer.Typer(help="Messages the ingest rejected: list, show, export.")


def _since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        message = f"--since {text!r}: expected ISO 8601, e.g. 2026-05-01T08:00+08:00"
        raise refuse(ValueError(message)) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@quarantine_app.command("list")
def quarantine_list(
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason code.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time; UTC if no offset.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most entries shown.")] = 100,
) -> None:
    """List quarantined messages, newest first, with counts per reason."""
    start = _since(since)
    with open_registry(registry_path(config, registry)) as store:
        entries = store.quarantine_list(reason=reason, since=start, limit=limit)
        counts = store.quarantine_counts()
    for entry in entries:
        say(
            console,
            f"{entry.id}  {format_time(entry.received_at)}  {entry.reason}  "
            f"agent={entry.agent_id or '-'}  {entry.raw_length} bytes  "
            f"topic={entry.topic[:80]}  {entry.detail[:100]}",
        )
    totals = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
    say(console, f"{count(len(entries), 'entry', 'entries')} shown; by reason: {totals}")


def _hex_lines(raw: bytes) -> list[str]:
    lines = []
    for offset in range(0, len(raw), 16):
        chunk = raw[offset : offset + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {text}")
    return lines


def _print_entry(entry: QuarantineEntry) -> None:
    for label, value in (
        ("id", str(entry.id)),
        ("received", format_time(entry.received_at)),
        ("reason", entry.reason),
        ("agent", entry.agent_id or "-"),
        ("topic", entry.topic),
        ("detail", entry.detail),
        ("length", f"{entry.raw_length} bytes ({len(entry.raw)} kept)"),
        ("sha256", entry.raw_sha256),
    ):
        say(console, f"{label:>9}: {value}")
    try:
        text = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        say(console, "     utf-8: (not UTF-8 text)")
    else:
        say(console, f"     utf-8: {text[:2000]}")
    say(console, f"       hex: first {min(PREVIEW_BYTES, len(entry.raw))} bytes")
    for line in _hex_lines(entry.raw[:PREVIEW_BYTES]):
        say(console, f"  {line}")


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(metavar="ID", help="Quarantine entry id.")],
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Show one quarantined message: reason, topic, detail, UTF-8 and hex preview."""
    with open_registry(registry_path(config, registry)) as store:
        entry = store.quarantine_get(entry_id)
    if entry is None:
        say(err_console, f"error: no quarantine entry {entry_id} in {store.path}", "red")
        raise typer.Exit(EXIT_ERRORS)
    _print_entry(entry)


@quarantine_app.command("export")
def quarantine_export(
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason code.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time; UTC if no offset.")
    ] = None,
) -> None:
    """Write quarantined messages as JSON lines (bytes in base64), oldest first."""
    start = _since(since)
    with open_registry(registry_path(config, registry)) as store:
        try:
            with out.open("w", encoding="utf-8") as stream:
                written = store.quarantine_export(stream, reason=reason, since=start)
        except OSError as exc:
            say(err_console, f"error: {out}: {exc.strerror or exc}", "red")
            raise typer.Exit(EXIT_UNREADABLE) from None
    say(console, f"{count(written, 'entry', 'entries')} written to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``quarantine`` command group to ``app``."""
    app.add_typer(quarantine_app, name="quarantine")
