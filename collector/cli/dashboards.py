"""``retrofit-collector dashboards``: check, push, and feed the Grafana dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from collector.cli._common import (
    EXIT_ERRORS,
    EXIT_UNAVAILABLE,
    EXIT_UNREADABLE,
    ConfigOption,
    console,
    err_console,
    error_exit,
    load_config,
    run_or_exit,
)
from contract.errors import InputFileError
from contract.files import read_bounded
from contract.terminal import safe_text, say

if TYPE_CHECKING:
    from collector.dashboards import DashboardFile

__all__ = ["register"]

#: Largest evidence document ``dashboards evidence`` reads: a platform roll-up is a few MB.
MAX_EVIDENCE_BYTES = 64 * 1024 * 1024

dashboards_app = typer.Typer(
    help="Grafana dashboards: check their queries, push them, write the data they read.",
    no_args_is_help=True,
)


def _default_dir() -> Path:
    """The repository's dashboards/ next to the package in a checkout, else ./dashboards."""
    beside = Path(__file__).resolve().parents[2] / "dashboards"
    return beside if beside.is_dir() else Path("dashboards")


DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        envvar="RV_DASHBOARDS_DIR",
        help="Folder of dashboard JSON files [default: the repository's dashboards/].",
    ),
]


def _load(folder: Path | None) -> list[DashboardFile]:
    from collector.dashboards import DashboardFileError, load_dashboards

    try:
        return load_dashboards(folder or _default_dir())
    except DashboardFileError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None


@dashboards_app.command("check")
def check(
    influx: Annotated[str, typer.Option("--influx", help="InfluxDB base URL (v1 HTTP API).")],
    database: Annotated[str, typer.Option("--database", help="The database.")] = "rv",
    username: Annotated[str | None, typer.Option("--username", help="1.x user.")] = None,
    password: Annotated[
        str | None, typer.Option("--password", envvar="RV_INFLUX_PASSWORD", help="1.x password.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="RV_INFLUX_TOKEN", help="2.x/3.x token.")
    ] = None,
    folder: DirOption = None,
    max_assignments: Annotated[
        int, typer.Option("--max-assignments", min=1, help="Variable combinations tried.")
    ] = 64,
) -> None:
    """Run every panel's query against InfluxDB; list the panels that return no data.

    Variables take values found in the data (All first, then each value) and the time range
    is the span of the data each dashboard reads. Exit codes: 0 every panel, annotation and
    variable returned data; 1 some did not (listed); 2 a dashboard file is unreadable;
    4 InfluxDB cannot be used.
    """
    import asyncio

    from collector.dashboards.check import CheckResult, TimeRange, check_dashboard
    from collector.store import InfluxStore, StoreError, Token, UserPassword

    dashboards = _load(folder)
    auth = Token(token) if token else (
        UserPassword(username, password or "") if username else None
    )  # fmt: skip

    async def run() -> list[tuple[str, TimeRange | None, list[CheckResult]]]:
        async with InfluxStore(influx, database, auth=auth) as store:
            found = []
            for dashboard in dashboards:
                time_range, results = await check_dashboard(
                    store, dashboard, max_assignments=max_assignments
                )
                found.append((dashboard.title, time_range, results))
            return found

    try:
        checked = asyncio.run(run())
    except StoreError as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None
    failures: list[str] = []
    for title, time_range, results in checked:
        caption = f"{title} ({time_range.describe() if time_range else 'no data'})"
        table = Table(title=Text(safe_text(caption)))
        for column in ("item", "result", "rows", "variables"):
            table.add_column(column)
        for result in results:
            if not result.ok:
                failures.append(f"{title}: {result.problem}")
            # Titles, variable values and problems come from the files and the data: text only.
            values = ", ".join(f"{k}={v}" for k, v in result.values.items())
            problem = safe_text(result.problem or "no data")
            status = Text("data", "green") if result.ok else Text(problem, "red")
            table.add_row(
                Text(safe_text(result.item)), status, str(result.rows), Text(safe_text(values))
            )
        console.print(table)
    if failures:
        for failure in failures:  # one line each, after the tables, for logs and scripts
            say(err_console, failure)
        say(err_console, f"{len(failures)} dashboard item(s) returned no data", "red")
        raise typer.Exit(EXIT_ERRORS)
    say(console, "every panel, annotation and variable returned data", "green")


@dashboards_app.command("push")
def push(
    url: Annotated[str, typer.Option("--url", help="Grafana's base URL.")],
    token: Annotated[
        str,
        typer.Option(
            "--token", envvar="RV_GRAFANA_TOKEN", help="A service account token (Editor)."
        ),
    ],
    folder: DirOption = None,
    folder_uid: Annotated[
        str, typer.Option("--folder-uid", help="Grafana folder (created if missing).")
    ] = "retrofit-verify",
    datasource_uid: Annotated[
        str | None,
        typer.Option("--datasource-uid", help="Default InfluxDB datasource of the dashboards."),
    ] = None,
) -> None:
    """Upload the dashboards to a running Grafana (overwriting the same uids).

    Exit codes: 0 uploaded; 1 Grafana refused one (named); 2 a dashboard file is unreadable.
    """
    from collector.dashboards import DashboardPushError
    from collector.dashboards.push import push_dashboards

    dashboards = _load(folder)
    try:
        results = push_dashboards(
            url, token, dashboards, folder_uid=folder_uid, datasource_uid=datasource_uid
        )
    except DashboardPushError as exc:
        raise error_exit(exc, EXIT_ERRORS) from None
    for result in results:
        say(console, f"pushed {result.uid}: {result.title} (version {result.version}) {result.url}")


@dashboards_app.command("snapshot")
def snapshot(config: ConfigOption = Path("collector.yaml")) -> None:
    """Write one fleet snapshot from the registry to InfluxDB now (ingest does it every minute)."""
    from collector.dashboards.feed import ensure_fleet_retention, write_fleet_snapshot
    from collector.registry import Registry

    settings = load_config(config)

    async def run() -> int:
        async with settings.store() as store:
            await ensure_fleet_retention(store)
            with Registry(settings.registry) as registry:
                return await write_fleet_snapshot(registry, store, align_s=0)

    points = run_or_exit(run())
    say(console, f"wrote a fleet snapshot: {points} points")


@dashboards_app.command("evidence")
def evidence(
    documents: Annotated[
        list[Path], typer.Argument(help="evidence.json or platform roll-up JSON files.")
    ],
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Write evidence documents' verdicts, subsidies and plan dates for the dashboards.

    Exit codes: 0 written; 2 a document is unreadable or not an evidence document; 4 InfluxDB
    cannot be used.
    """

    from pydantic import ValidationError

    from collector.dashboards.evidence_feed import write_evidence_summary
    from collector.evidence.document import ENTERPRISE_FORMAT, EnterpriseEvidence, PlatformRollup

    settings = load_config(config)
    parsed: list[EnterpriseEvidence | PlatformRollup] = []
    for path in documents:
        try:
            content = read_bounded(path, MAX_EVIDENCE_BYTES, expected="an evidence JSON file")
        except InputFileError as exc:
            raise error_exit(exc, EXIT_UNREADABLE) from None
        try:
            raw = json.loads(content.decode("utf-8"))
            model = EnterpriseEvidence if raw.get("format") == ENTERPRISE_FORMAT else PlatformRollup
            parsed.append(model.model_validate(raw))
        except (ValueError, AttributeError, ValidationError) as exc:
            say(err_console, f"error: {path}: not an evidence document: {exc}", "red")
            raise typer.Exit(EXIT_UNREADABLE) from None

    async def run() -> int:
        async with settings.store() as store:
            await store.ensure_retention()  # the rollup policy, as ingest makes it (1.x)
            return sum([await write_evidence_summary(store, doc) for doc in parsed])

    points = run_or_exit(run())
    say(console, f"wrote {points} points from {len(parsed)} evidence document(s)")


def register(app: typer.Typer) -> None:
    """Add the ``dashboards`` group to the collector's command line."""
    app.add_typer(dashboards_app, name="dashboards")
