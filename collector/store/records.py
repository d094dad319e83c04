"""KPI windows as InfluxDB points and back: tags, typed fields, the window end as timestamp.

A window's identity is (platform, enterprise, agent, device, provenance, end): those are the
point's series and time, so a re-delivered window lands on the same point and overwrites it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import compress
from typing import Any

from collector.store.lines import FieldValue, encode_series
from collector.store.schema import KPI_WINDOW, QUALITY_FIELDS, TAG_KEYS, WINDOW_FIELDS, FieldKind
from contract import wire
from contract.daysums import ideal_count_s as _ideal_count_s

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
    window: wire.KpiWindow | wire.ReceivedWindow

    @property
    def window_end(self) -> datetime:
        """The window's end as an aware UTC datetime, whichever codec gave the window."""
        return _moment(self.window.end)


def window_records(envelope: wire.Envelope | wire.ReceivedEnvelope) -> list[WindowRecord]:
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
    ideal_count_s = _ideal_count_s(window)
    if ideal_count_s is not None:
        fields["ideal_count_s"] = ideal_count_s
    fields["duration_s"] = (_moment_ms(window.end) - _moment_ms(window.start)) / 1000
    for name in QUALITY_FIELDS:
        fields[name] = getattr(window.quality, name)
    fields["partial"] = window.partial
    fields["config_digest"] = window.config_digest
    fields["seq"] = record.seq
    fields["window_start_ms"] = _moment_ms(window.start)
    return fields


def window_line(record: WindowRecord) -> str:
    """The line-protocol line of one window (``precision=ms``). Raises ValueError if unencodable.

    The same text as :func:`encode_line` of :func:`window_tags` and :func:`window_fields`
    (tests hold them equal), built without its per-value checks: ``record.window`` is a
    validated window (a :class:`contract.wire.ReceivedWindow` from the compiled codec, or a
    :class:`contract.wire.KpiWindow`), so its floats are finite, its counts within int64 and
    its digest plain hex, and the field keys are the schema's own. This is ingest's
    per-window hot path: one ``%`` format in C of a template chosen by which optional
    quantities are present, no Python work per value.
    """
    window = record.window
    values = _base_values(window)
    present = tuple(map(operator.is_not, values, _NONES))
    template = _TEMPLATES.get(present) or _template(present)
    start_ms, end_ms = _cached_ms(window.start), _cached_ms(window.end)
    if not _INT64_MIN <= record.seq <= _INT64_MAX:
        raise ValueError(f"seq: {record.seq} is outside InfluxDB's int64 range")
    ideal_count_s = _ideal_count_s(window)
    products = () if ideal_count_s is None else (ideal_count_s,)
    tags = _tag_text(
        record.agent, window.device, record.enterprise, record.platform, window.provenance
    )
    return template % (
        tags,
        *compress(values, present),
        *products,
        (end_ms - start_ms) / 1000,
        *_quality_values(window.quality),
        "true" if window.partial else "false",
        window.config_digest,
        record.seq,
        start_ms,
        end_ms,
    )


def _template(present: tuple[bool, ...]) -> str:
    """The line's ``%`` template for windows whose optional quantities are ``present``."""
    fields = [
        f"{name}={_spec(WINDOW_FIELDS[name])}"
        for name, here in zip(_BASE_FIELDS, present, strict=True)
        if here
    ]
    if present[_BASE_FIELDS.index("ideal_cycle_s")] and present[_BASE_FIELDS.index("total_count")]:
        fields.append("ideal_count_s=%r")
    fields.append("duration_s=%r")
    fields += [
        f"{name}={'%r' if kind is FieldKind.FLOAT else '%di'}"
        for name, kind in QUALITY_FIELDS.items()
    ]
    fields.append('partial=%s,config_digest="%s",seq=%di,window_start_ms=%di')
    template = "%s " + ",".join(fields) + " %d"
    _TEMPLATES[present] = template
    return template


def _spec(kind: FieldKind) -> str:
    # %r of a float is repr(): the shortest text that reads back as the same float.
    return "%r" if kind is FieldKind.FLOAT else "%di"


def _moment(moment: datetime | str) -> datetime:
    # A received window carries its times as wire text, a pydantic one as datetimes.
    return wire.parse_timestamp(moment) if isinstance(moment, str) else moment


def _moment_ms(moment: datetime | str) -> int:
    return to_ms(_moment(moment))


_base_values = operator.attrgetter(*_BASE_FIELDS)
_quality_values = operator.attrgetter(*QUALITY_FIELDS)
_NONES = (None,) * len(_BASE_FIELDS)
_TEMPLATES: dict[tuple[bool, ...], str] = {}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# The windows of an envelope share their start and end: each instant is converted once.
_cached_ms = functools.lru_cache(maxsize=1024)(_moment_ms)


@functools.lru_cache(maxsize=4096)
def _tag_text(agent: str, device: str, enterprise: str, platform: str, provenance: str) -> str:
    # One series per (agent, device, provenance): a few thousand at most, escaped once.
    tags = dict(zip(TAG_KEYS, (agent, device, enterprise, platform, provenance), strict=True))
    return encode_series(KPI_WINDOW, tags)


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
