"""The ingest package's face: every exported name present, and the light part light."""

from __future__ import annotations

import json
import subprocess
import sys

import collector.ingest


def test_exports_are_sorted_and_present() -> None:
    names = collector.ingest.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert getattr(collector.ingest, name) is not None, name
        assert name in dir(collector.ingest), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(collector.ingest, "_no_such_name")


def _loads(statement: str, prefixes: tuple[str, ...]) -> list[str]:
    code = (
        f"import json, sys; {statement};"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_loading_the_configuration_imports_no_mqtt_client() -> None:
    # collector.config imports collector.ingest.settings and collector.registry.settings, which
    # run their packages' __init__: that must not import the replica (paho) or any of the
    # registry's database code, only the registry's configuration key.
    heavy = ("paho", "psycopg", "sqlite3", "collector.ingest.replica", "collector.registry")
    assert _loads("import collector.config", heavy) == [
        "collector.registry",
        "collector.registry.settings",
    ]


def test_importing_the_package_imports_only_its_light_modules() -> None:
    assert _loads("import collector.ingest", ("paho", "collector.ingest.")) == [
        "collector.ingest.settings",
        "collector.ingest.stats",
    ]


def test_the_ingest_process_imports_neither_the_evidence_engine_nor_the_web_app() -> None:
    # What `retrofit-collector ingest` runs: the service, the replica and the fleet feed.
    heavy = ("collector.evidence", "collector.web", "numpy", "scipy", "statsmodels", "fastapi")
    assert _loads("import collector.ingest.service", heavy) == []
