"""The agent's Prometheus metrics, served by :class:`contract.metrics.MetricsServer`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contract.metrics import MetricWriter, label

if TYPE_CHECKING:
    from agent.service import AgentService

__all__ = ["render_metrics"]


def render_metrics(service: AgentService) -> str:
    """Every metric of the agent in Prometheus text format."""
    lines: list[str] = []
    metric = MetricWriter(lines)

    def per_device(attribute: str) -> list[tuple[str, float]]:
        return [
            (label("device", d.config.id), float(getattr(d.health, attribute)))
            for d in service.devices
        ]

    stats = service.outbox.stats()
    state = service.publisher.state
    metric("rv_agent_polls_total", "counter", "Polls of each device.", per_device("polls"))
    metric(
        "rv_agent_polls_skipped_total",
        "counter",
        "Poll grid points skipped because the previous poll overran them.",
        per_device("polls_skipped"),
    )
    metric(
        "rv_agent_missed_polls_total",
        "counter",
        "Polls without any usable value.",
        per_device("missed_polls"),
    )
    metric(
        "rv_agent_bad_values_total", "counter", "Values with bad quality.", per_device("bad_values")
    )
    metric(
        "rv_agent_windows_closed_total",
        "counter",
        "KPI windows closed.",
        per_device("windows_closed"),
    )
    metric(
        "rv_agent_outbox_pending_windows",
        "gauge",
        "Windows not yet sealed.",
        [("", stats.pending_windows)],
    )
    metric(
        "rv_agent_outbox_sealed_batches",
        "gauge",
        "Batches sealed and kept: awaiting their PUBACK or the collector's confirmation.",
        [("", stats.sealed_batches)],
    )
    delivery = service.publisher.delivery.state
    metric(
        "rv_agent_outbox_awaiting_confirmation",
        "gauge",
        "Batches the broker acknowledged, kept until the collector confirms them stored.",
        [("", stats.awaiting_confirmation)],
    )
    metric(
        "rv_agent_batches_confirmed_total",
        "counter",
        "Batches forgotten on a valid collector confirmation.",
        [("", delivery.batches_confirmed)],
    )
    metric(
        "rv_agent_batches_refused_total",
        "counter",
        "Batches the collector refused for good (kept in its quarantine), forgotten; by reason.",
        [(label("reason", k), v) for k, v in sorted(delivery.refused.items())],
    )
    metric(
        "rv_agent_batches_resent_unconfirmed_total",
        "counter",
        "Batches sent again because no confirmation came within delivery.resend_after_s.",
        [("", delivery.resent)],
    )
    metric(
        "rv_agent_confirmations_ignored_total",
        "counter",
        "Confirmations ignored (they delete nothing), by reason.",
        [(label("reason", k), v) for k, v in sorted(delivery.ignored.items())],
    )
    metric(
        "rv_agent_outbox_full",
        "gauge",
        "1 while the outbox is at capacity.",
        [("", float(stats.full))],
    )
    metric(
        "rv_agent_outbox_merged_windows_total",
        "counter",
        "Windows merged into 15-min ones because the outbox was full.",
        [("", stats.merged_total)],
    )
    metric(
        "rv_agent_outbox_dropped_windows_total",
        "counter",
        "Windows dropped because the outbox was full (recorded as gaps).",
        [("", stats.dropped_total + service.windows_dropped_in_memory)],
    )
    metric("rv_agent_next_seq", "gauge", "The seq the next batch will get.", [("", stats.next_seq)])
    metric(
        "rv_agent_broker_connected",
        "gauge",
        "1 while connected to the broker.",
        [("", float(state.connected))],
    )
    metric(
        "rv_agent_batches_acked_total",
        "counter",
        "Batches acknowledged by the broker.",
        [("", state.batches_acked)],
    )
    metric(
        "rv_agent_day_seals_acked_total",
        "counter",
        "Day seals acknowledged by the broker.",
        [("", state.day_seals_acked)],
    )
    metric(
        "rv_agent_publish_failures_total",
        "counter",
        "Batches and day seals the broker did not accept.",
        [("", state.publish_failures)],
    )
    metric(
        "rv_agent_publish_latency_seconds",
        "summary",
        "Time from publishing a batch to its PUBACK.",
        [("_sum", state.ack_latency_sum_s), ("_count", state.batches_acked)],
    )
    # (a summary's samples carry their suffix on the name: "_sum" and "_count" above)
    return "\n".join(lines) + "\n"
