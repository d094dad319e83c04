"""A collector configuration for command-line tests: the commands find the registry in it."""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["write_collector_config"]


def write_collector_config(folder: Path, registry: Path | str) -> Path:
    """``folder/collector.yaml`` naming ``registry``; broker and InfluxDB are never contacted
    by the registry commands, so their addresses need not answer."""
    config = {
        "registry": str(registry),
        "broker": {"host": "127.0.0.1"},
        "influx": {"url": "http://127.0.0.1:8086", "database": "rv"},
    }
    path = folder / "collector.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
