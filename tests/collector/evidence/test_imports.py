"""Import guards: the ingest does not load the evidence engine, and the engine loads no client.

numpy, scipy and statsmodels are heavy; a database, HTTP or MQTT client has no place in a pure
computation.
"""

from __future__ import annotations

import subprocess
import sys

import collector.evidence


def test_ingest_does_not_import_the_evidence_engine() -> None:
    code = (
        "import sys, collector.ingest, collector.store;"
        "heavy = sorted(m for m in ('collector.evidence', 'numpy', 'scipy', 'statsmodels')"
        " if m in sys.modules); print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_evidence_engine_imports_no_client() -> None:
    # Evidence takes values (evidence/inputs.py), never the stores they come from: no database,
    # HTTP or MQTT client, and none of the registry's or the InfluxDB store's modules.
    code = (
        "import sys, collector.evidence;"
        "clients = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('httpx', 'sqlite3', 'paho', 'fastapi', 'influxdb_client')"
        " or m.startswith(('collector.registry', 'collector.store')));"
        "print(clients); sys.exit(1 if clients else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_exports_are_sorted_and_present() -> None:
    names = collector.evidence.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in names:
        assert hasattr(collector.evidence, name), name


def test_the_command_line_does_not_import_the_evidence_engine() -> None:
    code = (
        "import sys, collector.cli;"
        "heavy = sorted(m for m in ('numpy', 'scipy', 'statsmodels') if m in sys.modules);"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_line_seed_is_the_engine_seed() -> None:
    from collector.cli.evidence import DEFAULT_SEED as CLI_SEED
    from collector.evidence.change import DEFAULT_SEED

    assert CLI_SEED == DEFAULT_SEED


def test_the_command_line_report_choices_are_the_writer_choices() -> None:
    from typing import get_args

    from collector.bundle import REPORT_CHOICES, ReportChoice
    from collector.cli.evidence import Reports

    assert get_args(Reports) == get_args(ReportChoice) == REPORT_CHOICES
