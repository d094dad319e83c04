"""``retrofit-collector``: the central side's command line, one module per command group.

==================  ===============================================================
module              commands
==================  ===============================================================
``verify``          ``verify-message``: one captured message against the contract
``ingest``          ``ingest``: signed windows from the broker into InfluxDB
``serve``           ``serve``: the web app
``rollups``         ``rollups refresh``: repair daily rollups
``store``           ``store init``: the InfluxDB database and retention policies
``plan``            ``plan validate|load|show|template|export``: the implementation plan
``agents``          ``agents add|revoke|list``: agents and their keys
``attachments``     ``attachments add|list|withdraw|get``: an enterprise's file
``quarantine``      ``quarantine list|show|export``: messages the ingest rejected
``evidence``        ``evidence``, ``rollup``: evidence bundles
``bundle_key``      ``bundle-key generate|show``: the key that signs bundles
``confirmation_key`` ``confirmation-key generate|show``: the key that signs confirmations
``export``          ``export``: a bundle's table as a workbook or CSV
``users``           ``users ...``: the web app's users and tokens
``dashboards``      ``dashboards check|push|snapshot|evidence``: Grafana
``broker``          ``broker acl``: the MQTT broker's access list
``registry``        ``registry migrate``: the registry database itself
==================  ===============================================================

Each module adds its commands with ``register(app)``; what they share (consoles, exit codes,
the ``--config`` option, loading it) is in :mod:`collector.cli._common`. Command modules
import the heavy parts (registry, store, evidence engine, web app) inside the commands, so
that loading the command line stays light (tests/collector/evidence/test_imports.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from collector.cli import (
    agents,
    attachments,
    broker,
    bundle_key,
    confirmation_key,
    dashboards,
    evidence,
    export,
    ingest,
    plan,
    quarantine,
    registry,
    rollups,
    serve,
    store,
    users,
    verify,
)
from contract.logs import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="retrofit-collector",
    help=(
        "Central collector for retrofit-verify: registry of the implementation plan, MQTT "
        "ingest into InfluxDB, quarantine, and the evidence reviewers use."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    configure_logging(verbose)


# In this order: it is the order of `retrofit-collector --help` (commands, then groups).
for _group in (
    verify,
    ingest,
    serve,
    rollups,
    store,
    plan,
    agents,
    attachments,
    quarantine,
    evidence,
    bundle_key,
    confirmation_key,
    export,
    users,
    dashboards,
    broker,
    registry,
):
    _group.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
