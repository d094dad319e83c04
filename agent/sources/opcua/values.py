"""OPC UA data values to readings: status code to quality, timestamps, scale and offset. Pure.

OPC UA Part 4, 7.39 (StatusCode): the two top bits give the severity, Good (00), Uncertain (01)
or Bad (10); the name (``BadNodeIdUnknown``, ``UncertainLastUsableValue``) says why, and is what
a technician can look up, so it becomes the reading's reason as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asyncua import ua

from ..base import Quality

__all__ = ["Sample", "quality_of", "sample_from_data_value", "scaled_value"]

#: What a Reading's ``value`` may hold.
Value = float | int | bool | str | None


@dataclass(frozen=True, slots=True)
class Sample:
    """The latest state of one tag: raw value, quality, why, and the server's source time (s)."""

    raw: object
    quality: Quality
    reason: str | None
    source_ts: float | None = None


def quality_of(status: ua.StatusCode | None) -> tuple[Quality, str | None]:
    """Quality and reason for an OPC UA status code; a missing status means Good (Part 4, 7.11)."""
    if status is None or status.is_good():
        return Quality.GOOD, None
    if status.is_uncertain():
        return Quality.UNCERTAIN, status.name
    return Quality.BAD, status.name


def _epoch_s(stamp: datetime | None) -> float | None:
    # asyncua decodes DateTime as a naive datetime in UTC.
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def sample_from_data_value(data_value: ua.DataValue) -> Sample:
    """The sample a DataValue from a Read or a data-change notification stands for."""
    quality, reason = quality_of(data_value.StatusCode)
    raw = data_value.Value.Value if data_value.Value is not None else None
    if quality is Quality.BAD:
        raw = None
    return Sample(raw, quality, reason, _epoch_s(data_value.SourceTimestamp))


def scaled_value(raw: object, scale: float, offset: float) -> tuple[Value, str | None]:
    """``raw * scale + offset`` for numbers; other supported types unchanged.

    Returns (value, None), or (None, reason) when the raw value cannot be a reading: an array,
    a structure, or a non-number that the configuration asks to scale. An identity scale keeps
    integers as integers, so counters stay exact.
    """
    if isinstance(raw, ua.LocalizedText):
        raw = raw.Text
    if raw is None or isinstance(raw, bool | str):
        if (scale, offset) != (1.0, 0.0) and raw is not None:
            return None, f"got {type(raw).__name__} value {raw!r}, expected a number to scale"
        return raw, None
    if isinstance(raw, int | float):
        if (scale, offset) == (1.0, 0.0):
            return raw, None
        return raw * scale + offset, None
    return None, f"unsupported value type {type(raw).__name__}, expected a scalar"
