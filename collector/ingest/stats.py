"""The replica's counters: what /metrics and /healthz report and the retiring replica watches."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["IngestStats"]


@dataclass
class IngestStats:
    """Counters for /metrics and the logs."""

    received: Counter[str] = field(default_factory=Counter)  # by kind: windows, status, other
    written_records: int = 0
    written_batches: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # by reason code
    store_retries: int = 0
    registry_retries: int = 0
    rollup_failures: int = 0
    write_latency_sum_s: float = 0.0
    inflight: int = 0
    connected: bool = False
    last_write_ts: float | None = None
    last_error: str | None = None
