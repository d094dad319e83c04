"""One ingest replica's settings: where it reads from and how much it holds at once.

Light on purpose: ``collector.config`` imports this module alone, so loading a configuration
does not import paho or the rest of the replica.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IngestSettings"]


@dataclass(frozen=True)
class IngestSettings:
    """Where to read from and how much to hold at once."""

    host: str
    port: int = 1883
    client_id: str = "collector-1"
    group: str = "collectors"
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    keepalive_s: int = 30
    #: Session kept by the broker while no replica of this client id is connected.
    session_expiry_s: int = 7 * 86_400
    #: Receive maximum: unacknowledged messages the broker may send at once (memory bound).
    inflight: int = 64
    #: A batch (one InfluxDB write) closes after this long, or at ``inflight / 2`` messages.
    flush_after_s: float = 0.2
    #: Daily rollups of the days written to are recomputed on rounds this often, off the ack
    #: path: a day once it was not marked again for a round, or after it kept changing for
    #: ``rollup_max_lag_s`` (a backlog draining), so a day is not re-read every round.
    rollup_every_s: float = 2.0
    rollup_max_lag_s: float = 30.0
    #: Quarantined messages logged one WARNING line each, per reason and interval; the rest
    #: are summed into one line at the interval's end (all are kept and counted).
    quarantine_log_burst: int = 10
    quarantine_log_every_s: float = 60.0
    #: Run paho's network loop in its own thread (``loop_start``, the read path before #20's
    #: B.3) instead of in the event loop (:mod:`collector.ingest.mqtt_loop`): kept to measure
    #: one against the other (bench/collector_ingest.py).
    mqtt_thread: bool = False
    #: The collector confirmation key (PKCS#8 PEM): with it, each agent is told which of its
    #: seqs are stored (collector.ingest.confirmations); None: no confirmations are sent.
    confirmation_key_path: str | None = None
    #: At most one confirmation per agent this often.
    confirm_every_s: float = 1.0
    #: Retire this client id: drain what its session holds, then end the session for good.
    retire: bool = False
    #: Retiring: the session is drained once nothing has arrived for this long.
    retire_quiet_s: float = 5.0
