"""The replica's counters and what it is holding for: read by /metrics, /healthz and the logs."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Holding", "IngestStats"]


class Holding(enum.Enum):
    """What the replica holds its messages for: while it does, nothing is acknowledged."""

    #: InfluxDB is down, slow or refuses our credentials (collector.ingest.writes).
    INFLUXDB = "influxdb"
    #: The registry stayed locked past its busy timeout (collector.ingest.registry_calls).
    REGISTRY = "registry"


@dataclass
class IngestStats:
    """Counters for /metrics and the logs."""

    received: Counter[str] = field(default_factory=Counter)  # by kind: windows, status, other
    written_records: int = 0
    written_batches: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # by reason code
    #: Day seals by outcome: new, duplicate, quarantined (any reason, seal_conflict included).
    day_seals: Counter[str] = field(default_factory=Counter)
    #: Daily rows checked against their seals by outcome: sealed_equal, sealed_different,
    #: unsealed.
    day_checks: Counter[str] = field(default_factory=Counter)
    store_retries: int = 0
    registry_retries: int = 0
    rollup_failures: int = 0
    #: Device-days refreshed by path: "merged" (only the windows after the stored row read,
    #: collector.store.rollup_merge) or "recomputed" (all the day's windows read).
    rollup_refreshes: Counter[str] = field(default_factory=Counter)
    write_latency_sum_s: float = 0.0
    #: CPU and wall seconds of the registry calls, in the registry thread (fsync waits are
    #: wall, not CPU).
    registry_cpu_s: float = 0.0
    registry_wall_s: float = 0.0
    inflight: int = 0
    #: Messages settled after the connection that delivered them was lost: their packet id
    #: may name another message on the next connection, so no PUBACK is sent (the broker
    #: delivers them again on a resumed session, or lost them with its state).
    acks_dropped: int = 0
    #: Delivery confirmations published to agents, and the seqs they confirmed (#19).
    confirmations_sent: int = 0
    confirmed_seqs: int = 0
    #: Seqs confirmed refused for good (a verified replay or seal conflict, quarantined).
    refused_seqs: int = 0
    connected: bool = False
    last_write_ts: float | None = None
    #: The last error, as the health page shows it.
    last_error: str | None = None
    #: The hold ``last_error`` reports; None when it reports none (or there is no error).
    #: An InfluxDB hold is released when writes succeed again; a registry hold, like its
    #: text, stays reported until another error replaces it (as before this was typed).
    holding: Holding | None = None

    def hold(self, holding: Holding, error: str) -> None:
        """The replica holds its messages for ``holding``; ``error`` says why."""
        self.holding = holding
        self.last_error = error

    def release(self) -> None:
        """The hold is over: no error to report."""
        self.holding = None
        self.last_error = None

    def note_error(self, error: str) -> None:
        """An error that holds nothing back (the broker refused the connection)."""
        self.holding = None
        self.last_error = error
