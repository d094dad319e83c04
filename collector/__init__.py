"""retrofit-verify collector: registry, ingest, InfluxDB store, evidence and web app."""

__all__: list[str] = []
