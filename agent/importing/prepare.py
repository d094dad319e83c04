"""An import from file to windows, before anything is written: :func:`prepare_import`.

Reading, checking and building are separate from storing, so ``--dry-run`` shows exactly what a
real import would store, and a refused import leaves the outbox untouched.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from agent.config import DeviceConfig, LoadedConfig
from agent.importing.build import (
    check_overlaps,
    counter_widths,
    default_max_gap_s,
    import_spec,
    interval_windows,
    sample_windows,
)
from agent.importing.errors import (
    BadRowsError,
    ImportFileError,
    MappingError,
    RefusedError,
    RowIssue,
)
from agent.importing.mapping import ImportMapping, Shape
from agent.importing.rows import RowsRead, read_intervals, read_samples
from agent.importing.table import Table, read_table
from agent.importing.values import TimeReader
from contract import days, wire

__all__ = ["MAX_IMPORT_WINDOWS", "PreparedImport", "find_device", "prepare_import"]

#: Most windows one import may make: bounds memory whatever the timestamps claim.
MAX_IMPORT_WINDOWS = 1_000_000


@dataclass(frozen=True, slots=True)
class PreparedImport:
    """What an import would store, and how the file was read."""

    device: str
    shape: Shape
    source: str
    encoding: str
    delimiter: str
    data_rows: int
    filtered_out: int
    used_rows: int
    skipped: tuple[RowIssue, ...]
    windows: list[wire.KpiWindow]
    zone: tzinfo
    #: Samples shape: the window length and the longest gap that holds a state (seconds).
    window_s: int | None = None
    max_gap_s: float | None = None

    @property
    def skipped_rows(self) -> int:
        """Rows left out because a value in them could not be used (``--skip-bad``)."""
        return len({issue.row for issue in self.skipped})


def find_device(loaded: LoadedConfig, device_id: str) -> DeviceConfig:
    """The configured device ``device_id``; MappingError naming the configured ones."""
    for device in loaded.config.devices:
        if device.id == device_id:
            return device
    known = ", ".join(device.id for device in loaded.config.devices)
    raise MappingError([f"--device {device_id!r}: no such device in {loaded.source} ({known})"])


def _zone(mapping: ImportMapping, device: DeviceConfig, agent_zone: str) -> tzinfo | None:
    """The zone of the export's times without an offset: ``--tz``, else the device calendar's,
    else ``agent.timezone`` (the zone the agent cuts its days and day seals in, the plan's;
    an MES in the plant writes the plant's local time). Epoch times need none."""
    if mapping.timezone is not None:
        return zoneinfo.ZoneInfo(mapping.timezone)
    if device.calendar is not None:
        return device.calendar.zone
    if mapping.time_format in ("epoch_s", "epoch_ms"):
        return None
    return days.zone(agent_zone)


def prepare_import(
    loaded: LoadedConfig,
    device_id: str,
    csv_path: Path,
    mapping: ImportMapping,
    *,
    skip_bad: bool,
    now: float,
) -> PreparedImport:
    """Read ``csv_path`` and build the windows it makes for ``device_id``; write nothing.

    ``now`` is plant time (seconds since the epoch): later rows are refused as in the future.
    Raises ImportFileError (file unreadable), MappingError (mapping does not fit), BadRowsError
    (bad rows, unless ``skip_bad``; or no usable row at all), RefusedError (overlaps, too many
    windows).
    """
    device = find_device(loaded, device_id)
    zone = _zone(mapping, device, loaded.config.agent.timezone)
    table = read_table(
        csv_path,
        encoding=mapping.encoding,
        delimiter=mapping.delimiter,
        header_row=mapping.header_row,
    )
    times = TimeReader(mapping.time_format, zone)
    if mapping.shape == "samples":
        return _plan_samples(loaded, device, table, mapping, times, now, skip_bad, zone or UTC)
    return _plan_intervals(loaded, device, table, mapping, times, now, skip_bad, zone or UTC)


def _checked_issues(
    table: Table,
    mapping: ImportMapping,
    read: RowsRead[Any],
    issues: list[RowIssue],
    used: int,
    skip_bad: bool,
) -> tuple[RowIssue, ...]:
    """The issues to report as skipped; raises BadRowsError unless they may be skipped.

    Also raises ImportFileError when the file has no data rows at all.
    """
    if read.data_rows == 0:
        raise ImportFileError(
            f"{table.source}: no data rows below the header on row {table.header_row}"
        )
    issues = sorted(issues, key=lambda issue: issue.row)
    if issues and (not skip_bad or used == 0):
        raise BadRowsError(issues, rows=read.data_rows)
    if used == 0:
        raise MappingError(
            [
                f"--where: none of the {read.data_rows:,} data rows of {table.source} match "
                + ", ".join(f"{column}={value}" for column, value in mapping.where.items())
            ]
        )
    return tuple(issues)


def _plan_samples(
    loaded: LoadedConfig,
    device: DeviceConfig,
    table: Table,
    mapping: ImportMapping,
    times: TimeReader,
    now: float,
    skip_bad: bool,
    zone: tzinfo,
) -> PreparedImport:
    read = read_samples(table, mapping, device, times, now)
    skipped = _checked_issues(table, mapping, read, read.issues, len(read.rows), skip_bad)
    samples = [sample for _, sample in read.rows]
    stamps = sorted(sample.ts for sample in samples)
    window_s = mapping.window_s or loaded.config.agent.window_s
    expected = math.ceil((stamps[-1] - stamps[0]) / window_s) + 2
    if expected > MAX_IMPORT_WINDOWS:
        raise RefusedError(
            f"{table.source}: the rows span {(stamps[-1] - stamps[0]) / 86_400:,.1f} days, "
            f"{expected:,} windows of {window_s} s, more than the limit of "
            f"{MAX_IMPORT_WINDOWS:,}; import a shorter period or use a longer --window-s"
        )
    max_gap_s = mapping.max_gap_s or default_max_gap_s(device, stamps)
    spec = import_spec(
        device,
        mapping,
        window_s=window_s,
        config_digest=loaded.digest,
        max_gap_s=max_gap_s,
        counter_widths=counter_widths(device, mapping, samples),
    )
    return PreparedImport(
        device=device.id,
        shape="samples",
        source=table.source,
        encoding=table.encoding,
        delimiter=table.delimiter,
        data_rows=read.data_rows,
        filtered_out=read.filtered_out,
        used_rows=len(samples),
        skipped=skipped,
        windows=sample_windows(samples, spec),
        zone=zone,
        window_s=window_s,
        max_gap_s=max_gap_s,
    )


def _plan_intervals(
    loaded: LoadedConfig,
    device: DeviceConfig,
    table: Table,
    mapping: ImportMapping,
    times: TimeReader,
    now: float,
    skip_bad: bool,
    zone: tzinfo,
) -> PreparedImport:
    read = read_intervals(table, mapping, times, now)
    rows = [row for _, row in read.rows]
    windows, refused = interval_windows(rows, device, loaded.digest)
    issues = read.issues + refused
    skipped = _checked_issues(table, mapping, read, issues, len(windows), skip_bad)
    refused_rows = {issue.row for issue in refused}
    check_overlaps([row for row in rows if row.row not in refused_rows], zone)
    return PreparedImport(
        device=device.id,
        shape="intervals",
        source=table.source,
        encoding=table.encoding,
        delimiter=table.delimiter,
        data_rows=read.data_rows,
        filtered_out=read.filtered_out,
        used_rows=len(windows),
        skipped=skipped,
        windows=windows,
        zone=zone,
    )
