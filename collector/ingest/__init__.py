"""Ingest: signed windows from the MQTT broker into InfluxDB, acknowledged only once stored.

The modules, in the order a message meets them:

- :mod:`~collector.ingest.settings`: :class:`IngestSettings` (light: the configuration
  imports it alone);
- :mod:`~collector.ingest.replica`: the replica: the MQTT connection (paho's thread hands
  messages to the event loop), batches, acknowledgements in receive order
  (:mod:`~collector.ingest.acks`);
- :mod:`~collector.ingest.admission`: decoding, identity, signature and seq checks, and the
  quarantine (:mod:`~collector.ingest.quarantine_log` keeps its log lines readable;
  :mod:`~collector.ingest.refusals` the reasons and the identity rule every kind shares);
  :mod:`~collector.ingest.day_seals` the checks of a day seal (zone, device, signature);
- :mod:`~collector.ingest.writes`: InfluxDB writes, held and retried while it is unavailable;
- :mod:`~collector.ingest.rollups`: the days written to, marked dirty and refreshed in the
  background; :mod:`~collector.ingest.day_checks` checks each refreshed row against its day
  seal;
- :mod:`~collector.ingest.registry_calls`: what ingest asks of the registry, in one thread;
- :mod:`~collector.ingest.stats`, :mod:`~collector.ingest.metrics`: counters, /metrics and
  /healthz;
- :mod:`~collector.ingest.service`: :class:`IngestService`, the process: the replica, its
  metrics endpoint and the dashboards' fleet feed in one TaskGroup.

Every module logs as ``collector.ingest``, so the command's log lines read as they did before
the package was split. The rest of the collector imports names from here. Importing this
package imports only the light modules; the replica and the service (paho, the registry) are
imported when first named, so ``collector.config`` stays free of paho.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.ingest.settings import IngestSettings
from collector.ingest.stats import Holding, IngestStats
from collector.lazy import lazy_face

if TYPE_CHECKING:
    from collector.ingest.metrics import ingest_health, render_ingest_metrics
    from collector.ingest.registry_calls import AgentIdentity, IngestRegistry
    from collector.ingest.replica import Ingest
    from collector.ingest.service import IngestService, tune_gc_for_ingest

__all__ = [
    "AgentIdentity",
    "Holding",
    "Ingest",
    "IngestRegistry",
    "IngestService",
    "IngestSettings",
    "IngestStats",
    "ingest_health",
    "render_ingest_metrics",
    "tune_gc_for_ingest",
]

#: Names imported on first use, by module: these pull in paho and the registry.
_LAZY = {
    "AgentIdentity": "collector.ingest.registry_calls",
    "Ingest": "collector.ingest.replica",
    "IngestRegistry": "collector.ingest.registry_calls",
    "IngestService": "collector.ingest.service",
    "ingest_health": "collector.ingest.metrics",
    "render_ingest_metrics": "collector.ingest.metrics",
    "tune_gc_for_ingest": "collector.ingest.service",
}

__getattr__, __dir__ = lazy_face(__name__, _LAZY, globals(), __all__)
