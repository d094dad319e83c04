"""The ingest replica's Prometheus metrics and health document (for contract.metrics)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from contract.metrics import MetricWriter, label

if TYPE_CHECKING:
    from collector.ingest.replica import Ingest

__all__ = ["ingest_health", "render_ingest_metrics"]


def render_ingest_metrics(ingest: Ingest) -> str:
    """Every ingest metric in Prometheus text format."""
    stats = ingest.stats
    lines: list[str] = []
    metric = MetricWriter(lines)
    metric("rv_ingest_received_total", "counter", "Messages received, by kind.",
           [(label("kind", k), v) for k, v in sorted(stats.received.items())])  # fmt: skip
    metric("rv_ingest_written_records_total", "counter", "Windows written to InfluxDB.",
           [("", stats.written_records)])  # fmt: skip
    metric("rv_ingest_written_batches_total", "counter", "InfluxDB writes.",
           [("", stats.written_batches)])  # fmt: skip
    metric("rv_ingest_duplicates_total", "counter",
           "Envelopes received again with the same seq and content (written again).",
           [("", stats.duplicates)])  # fmt: skip
    metric("rv_ingest_quarantined_total", "counter", "Messages quarantined, by reason.",
           [(label("reason", k), v) for k, v in sorted(stats.quarantined.items())])  # fmt: skip
    metric("rv_ingest_day_seals_total", "counter",
           "Day seals received, by outcome (new, duplicate, quarantined).",
           [(label("outcome", k), v) for k, v in sorted(stats.day_seals.items())])  # fmt: skip
    metric("rv_day_checks_total", "counter",
           "Daily rows checked against their day seal after a rollup refresh, by outcome.",
           [(label("outcome", k), v) for k, v in sorted(stats.day_checks.items())])  # fmt: skip
    metric("rv_ingest_inflight_messages", "gauge",
           "Messages received and not yet acknowledged (at most the receive maximum).",
           [("", stats.inflight)])  # fmt: skip
    metric("rv_ingest_acks_dropped_total", "counter",
           "Messages settled after their broker connection was lost: no PUBACK (their packet "
           "id may name another message on the next connection).",
           [("", stats.acks_dropped)])  # fmt: skip
    metric("rv_ingest_confirmations_sent_total", "counter",
           "Delivery confirmations published to agents (one per agent and round).",
           [("", stats.confirmations_sent)])  # fmt: skip
    metric("rv_ingest_confirmed_seqs_total", "counter",
           "Seqs confirmed to their agents as stored.",
           [("", stats.confirmed_seqs)])  # fmt: skip
    metric("rv_ingest_refused_seqs_total", "counter",
           "Seqs confirmed to their agents as refused for good (verified, quarantined).",
           [("", stats.refused_seqs)])  # fmt: skip
    metric("rv_ingest_store_retries_total", "counter",
           "Writes retried because InfluxDB was unavailable.",
           [("", stats.store_retries)])  # fmt: skip
    metric("rv_ingest_registry_retries_total", "counter",
           "Registry calls retried because the registry was locked too long.",
           [("", stats.registry_retries)])  # fmt: skip
    metric("rv_ingest_registry_cpu_seconds_total", "counter",
           "CPU time of the registry calls, in their thread.",
           [("", stats.registry_cpu_s)])  # fmt: skip
    metric("rv_ingest_registry_wall_seconds_total", "counter",
           "Wall time of the registry calls, in their thread (CPU plus fsync and lock waits).",
           [("", stats.registry_wall_s)])  # fmt: skip
    metric("rv_ingest_rollup_failures_total", "counter", "Daily rollup refreshes that failed.",
           [("", stats.rollup_failures)])  # fmt: skip
    metric("rv_ingest_rollup_refreshes_total", "counter",
           "Device-days refreshed, by path (merged: newer windows only; recomputed: whole day).",
           [(label("path", k), v) for k, v in sorted(stats.rollup_refreshes.items())])  # fmt: skip
    metric("rv_ingest_write_latency_seconds", "summary",
           "Time to write a batch and mark its days for a rollup refresh.",
           [("_sum", stats.write_latency_sum_s), ("_count", stats.written_batches)])  # fmt: skip
    metric("rv_ingest_broker_connected", "gauge", "1 while connected to the broker.",
           [("", float(stats.connected))])  # fmt: skip
    return "\n".join(lines) + "\n"


def ingest_health(ingest: Ingest) -> dict[str, object]:
    """The replica's health: connection, last write, last error."""
    stats = ingest.stats
    return {
        "client_id": ingest.settings.client_id,
        "broker_connected": stats.connected,
        "inflight": stats.inflight,
        "last_write_ts": stats.last_write_ts,
        "seconds_since_last_write": (
            None if stats.last_write_ts is None else time.time() - stats.last_write_ts
        ),
        "last_error": stats.last_error,
        "quarantined": dict(stats.quarantined),
    }
