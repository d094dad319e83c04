"""KPI windows as InfluxDB points and back: tags, typed fields, the window end as timestamp.

A window's identity is (platform, enterprise, agent, device, provenance, end): those are the
point's series and time, so a re-delivered window lands on the same point and overwrites it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent import wire
from collector.store.lines import FieldValue, encode_line
from collector.store.schema import KPI_WINDOW, QUALITY_FIELDS, WINDOW_FIELDS, FieldKind

__all__ = [
    "WindowRecord",
    "from_ms",
    "to_ms",
    "typed_value",
    "window_fields",
    "window_from_row",
    "window_line",
    "window_records",
    "window_tags",
]

_BASE_FIELDS = (*wire.SUMMED_FIELDS, "ideal_cycle_s")


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One KPI window with the identity of the envelope that carried it."""

    platform: str
    enterprise: str
    agent: str
    seq: int
    window: wire.KpiWindow


def window_records(envelope: wire.Envelope) -> list[WindowRecord]:
    """The records of a validated envelope, each with the envelope's identity and seq."""
    return [
        WindowRecord(envelope.platform, envelope.enterprise, envelope.agent, envelope.seq, window)
        for window in envelope.records
    ]


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (exact: wire times are whole ms)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of ``ms`` milliseconds since the epoch."""
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=(ms % 1000) * 1000)


def window_tags(record: WindowRecord) -> dict[str, str]:
    """The series tags of a window's point."""
    return {
        "platform": record.platform,
        "enterprise": record.enterprise,
        "agent": record.agent,
        "device": record.window.device,
        "provenance": record.window.provenance,
    }


def window_fields(record: WindowRecord) -> dict[str, FieldValue | None]:
    """The fields of a window's point; None for a quantity the device does not measure."""
    window = record.window
    fields: dict[str, FieldValue | None] = {name: getattr(window, name) for name in _BASE_FIELDS}
    if window.ideal_cycle_s is not None and window.total_count is not None:
        fields["ideal_count_s"] = window.ideal_cycle_s * window.total_count
    fields["duration_s"] = (to_ms(window.end) - to_ms(window.start)) / 1000
    for name in QUALITY_FIELDS:
        fields[name] = getattr(window.quality, name)
    fields["partial"] = window.partial
    fields["config_digest"] = window.config_digest
    fields["seq"] = record.seq
    fields["window_start_ms"] = to_ms(window.start)
    return fields


def window_line(record: WindowRecord) -> str:
    """The line-protocol line of one window (``precision=ms``). Raises ValueError if unencodable."""
    return encode_line(
        KPI_WINDOW,
        window_tags(record),
        window_fields(record),
        to_ms(record.window.end),
        WINDOW_FIELDS,
    )


def typed_value(kind: FieldKind, value: Any) -> Any:
    """``value`` read back from InfluxDB as the Python type of its declared kind."""
    # InfluxDB's JSON writes a whole float as 60, not 60.0: restore the declared type.
    if value is None:
        return None
    if kind is FieldKind.FLOAT:
        return float(value)
    if kind is FieldKind.INTEGER:
        return int(value)
    return value


def window_from_row(row: Mapping[str, Any]) -> WindowRecord:
    """Rebuild a window from a ``SELECT *`` row of ``kpi_window`` read with ``epoch=ms``.

    Raises pydantic's ValidationError if the stored point is not a valid window (a point not
    written by this store), KeyError if a required field is missing.
    """
    value = {name: typed_value(kind, row.get(name)) for name, kind in WINDOW_FIELDS.items()}
    window = wire.KpiWindow(
        device=row["device"],
        start=from_ms(value["window_start_ms"]),
        end=from_ms(int(row["time"])),
        provenance=row["provenance"],
        partial=value["partial"],
        config_digest=value["config_digest"],
        **{name: value[name] for name in _BASE_FIELDS},
        quality=wire.DataQuality(**{name: value[name] for name in QUALITY_FIELDS}),
    )
    return WindowRecord(row["platform"], row["enterprise"], row["agent"], value["seq"], window)
