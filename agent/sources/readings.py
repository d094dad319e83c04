"""Readings as every source builds them: a decoded value with its quality, or a bad one."""

from __future__ import annotations

from agent.sources.base import Quality, Reading

__all__ = ["bad_reading", "decoded_reading"]


def decoded_reading(
    tag: str,
    value: float | int | bool | str | None,
    reason: str | None,
    raw: object,
    read_ts: float,
    latency_s: float | None,
) -> Reading:
    """Good when decoding gave no ``reason``, else bad with it (``value`` then None)."""
    good = reason is None
    return Reading(
        tag, value if good else None, raw, Quality.GOOD if good else Quality.BAD, reason,
        read_ts, latency_s=latency_s,
    )  # fmt: skip


def bad_reading(tag: str, reason: str, read_ts: float, latency_s: float | None = None) -> Reading:
    """A bad reading: no value, the reason, when it was found."""
    return Reading(tag, None, None, Quality.BAD, reason, read_ts, latency_s=latency_s)
