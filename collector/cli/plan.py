"""``retrofit-collector plan``: the implementation plan (实施方案): validate, load, show,
template, export.

A plan file is YAML or an Excel workbook (``.xlsx``, docs/plan-workbook.md): ``validate`` and
``load`` read both (one model, two readers), ``template`` writes the empty workbook and
``export`` writes a plan (a file, or a version in the registry) as either.

Every command takes the collector's configuration, ``--config PATH`` (or
``RV_COLLECTOR_CONFIG``), and works on the registry it names; the old ``--registry PATH`` (or
``RV_REGISTRY``) still works, with a warning. Exit codes: 0 done, 1 refused (invalid plan or
configuration, conflict, not found), 2 unreadable input (a plan file or configuration that
cannot be read, a registry that cannot be opened). A user mistake never prints a traceback.

A plan's names are hostile input: every line goes out through :func:`contract.terminal.say`
(markup off, control characters escaped), and ``plan show --json`` escapes them the JSON way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from collector.cli._common import (
    DEFAULT_CONFIG,
    EXIT_ERRORS,
    EXIT_OK,
    EXIT_UNREADABLE,
    ByOption,
    ConfigOption,
    RegistryOption,
    console,
    count,
    err_console,
    error_exit,
    open_registry,
    refuse,
    registry_path,
    write_output,
)
from collector.errors import CollectorError, IdCollision, IdCollisionError
from collector.plan import (
    Enterprise,
    LoadedPlan,
    Plan,
    PlanFileError,
    PlanInvalidError,
    collision_issues,
    load_plan,
    plan_yaml,
)
from collector.registry import Registry, RegistryLocation, sqlite_path
from collector.registry.records import PlanVersion, format_time
from contract.configfile.console import print_issues
from contract.terminal import json_for_terminal, say

__all__ = [
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_UNREADABLE",
    "check_plan_ids",
    "register",
    "validate_plan_file",
]

CheckConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="RV_COLLECTOR_CONFIG",
        help="Also check the plan's ids against the other plans in this collector's registry "
        "(never created).",
    ),
]


def validate_plan_file(path: Path, out: Console) -> tuple[int, LoadedPlan | None]:
    """Validate a plan file, print errors then warnings and a summary; return the exit code.

    Never raises for a user mistake.
    """
    try:
        loaded = load_plan(path)
    except PlanFileError as exc:
        print_issues(out, exc.issues)
        return EXIT_UNREADABLE, None
    except PlanInvalidError as exc:
        print_issues(out, exc.issues)
        print_issues(out, exc.warnings)
        summary = f"{path}: {count(len(exc.issues), 'error')}"
        if exc.warnings:
            summary += f", {count(len(exc.warnings), 'warning')}"
        say(out, summary + "; fix the errors and run plan validate again")
        return EXIT_ERRORS, None
    print_issues(out, loaded.warnings)
    plan = loaded.plan
    enterprises = sum(len(platform.enterprises) for platform in plan.platforms)
    agents = sum(len(e.agents) for p in plan.platforms for e in p.enterprises)
    say(
        out,
        f"{path}: OK: plan {plan.key} ({plan.province.name}, batch {plan.batch_year}), "
        f"{count(len(plan.sub_industries), 'sub-industry', 'sub-industries')}, "
        f"{count(len(plan.platforms), 'platform')}, {count(enterprises, 'enterprise')}, "
        f"{count(agents, 'agent')}, {count(len(loaded.warnings), 'warning')}",
    )
    return EXIT_OK, loaded


def _print_collisions(
    out: Console, loaded: LoadedPlan, collisions: Sequence[IdCollision], registry: Path | str
) -> None:
    print_issues(out, collision_issues(loaded, collisions, registry))
    say(
        out,
        f"{loaded.source}: plan {loaded.plan.key} reuses "
        f"{count(len(collisions), 'id')} of other plans; give them new ids (only a new "
        "version of the plan that holds an id may keep it)",
    )


def check_plan_ids(loaded: LoadedPlan, store: Registry, out: Console) -> int:
    """The cross-plan id check: print its outcome and return the exit code (0 or 1)."""
    collisions = store.plan_id_collisions(loaded.plan)
    if collisions:
        _print_collisions(out, loaded, collisions, store.path)
        return EXIT_ERRORS
    others = [key for key in store.plan_keys() if key != loaded.plan.key]
    say(
        out,
        f"cross-plan id check: ran against registry {store.path} "
        f"({count(len(others), 'other plan')}): no id of plan {loaded.plan.key} is held by "
        "another plan",
    )
    return EXIT_OK


plan_app = typer.Typer(
    help="The implementation plan (实施方案): validate, load, show, template, export."
)


@plan_app.command("validate")
def plan_validate(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML, or a workbook .xlsx).")],
    config: CheckConfigOption = None,
    registry: RegistryOption = None,
) -> None:
    """Check a plan: schema and programme rules, every error with file, line and key path.

    With --config (or RV_COLLECTOR_CONFIG) also check that no other plan in the collector's
    registry holds one of its platform, enterprise or agent ids; the output says whether
    that check ran. Exit code 0 if valid (warnings may be printed), 1 if it has errors or
    reuses another plan's ids (or the configuration is invalid), 2 if the file, the
    configuration or the registry is unreadable.
    """
    code, loaded = validate_plan_file(file, console)
    if loaded is None:
        raise typer.Exit(code)
    if config is None and registry is None:
        say(
            console,
            "cross-plan id check: not run (no collector configuration; give --config PATH or "
            "set RV_COLLECTOR_CONFIG to check the ids against the collector's other plans)",
        )
        raise typer.Exit(code)
    path = registry_path(config or DEFAULT_CONFIG, registry)
    registry_file = sqlite_path(path)
    if registry_file is not None and not registry_file.is_file():
        say(
            err_console,
            f"error: registry {registry_file}: no such file (validate never creates one)",
            "red",
        )
        raise typer.Exit(EXIT_UNREADABLE)
    with open_registry(path) as store:
        raise typer.Exit(check_plan_ids(loaded, store, console))


@plan_app.command("load")
def plan_load(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML, or a workbook .xlsx).")],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Validate a plan and store it as a new version if its content changed (idempotent)."""
    code, loaded = validate_plan_file(file, console)
    if loaded is None:
        raise typer.Exit(code)
    with open_registry(registry_path(config, registry)) as store:
        if check_plan_ids(loaded, store, console) != EXIT_OK:
            raise typer.Exit(EXIT_ERRORS)
        try:
            result = store.load_plan(loaded, by=by)
        except IdCollisionError as exc:  # another load won the race since the check above
            _print_collisions(err_console, loaded, exc.collisions, store.path)
            raise typer.Exit(EXIT_ERRORS) from None
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    for note in result.notes:
        say(console, f"note: {note}", "yellow")
    if result.agents_added:
        say(console, f"agents added: {', '.join(result.agents_added)}")
    if result.agents_updated:
        say(console, f"agents with changed devices: {', '.join(result.agents_updated)}")
    if not result.created:
        say(console, f"plan {result.plan_key}: unchanged, still version {result.version}")
        return
    say(console, f"plan {result.plan_key}: version {result.version} stored, by {by}")
    for change in result.changes:
        say(console, f"  {change}")


def _print_plan(version: PlanVersion) -> None:
    plan, info = version.plan, version.info
    say(
        console,
        f"plan {info.plan_key} version {info.version} ({info.digest}), loaded "
        f"{format_time(info.loaded_at)} by {info.loaded_by} from {info.source_name}",
    )
    say(console, f"{plan.province.name} ({plan.province.code}), batch {plan.batch_year}")
    for platform in plan.platforms:
        say(console, f"{platform.id} {platform.name} (sub-industry {platform.sub_industry})")
        for enterprise in platform.enterprises:
            _print_enterprise(enterprise)


def _print_enterprise(enterprise: Enterprise) -> None:
    base, report = enterprise.baseline, enterprise.reporting
    targets = "; ".join(
        f"{kpi} {'+' if t.direction == 'increase' else '-'}{t.size:g} {t.unit}"
        + ("" if t.required else " (optional)")
        for kpi, t in enterprise.targets.items()
    )
    agents = ", ".join(f"{a.id} ({', '.join(a.devices)})" for a in enterprise.agents) or "none"
    for line in (
        f"  {enterprise.id} {enterprise.name}: {enterprise.retrofit_cost_cny:.2f} CNY, "
        f"{enterprise.timezone}",
        f"    baseline {base.start}..{base.end} ({base.days} d), go-live {enterprise.go_live}, "
        f"reporting {report.start}..{report.end} ({report.days} d)",
        f"    targets: {targets}",
        f"    agents: {agents}",
    ):
        say(console, line)


def _plan_version(store: Registry, plan_key: str | None, version: int | None) -> PlanVersion:
    """The version asked for (the only plan's latest by default), or exit 1 saying why."""
    if plan_key is None:
        keys = store.plan_keys()
        if len(keys) != 1:
            shown = ", ".join(keys) or "none loaded"
            raise refuse(ValueError(f"choose a plan with --plan (plans: {shown})"))
        plan_key = keys[0]
    try:
        return store.plan_version(plan_key, version)
    except CollectorError as exc:
        raise refuse(exc) from None


#: ``--plan``: which plan of the registry (show, export).
PlanKeyOption = Annotated[
    str | None, typer.Option("--plan", help="Plan key <province code>-<batch year>.")
]
#: ``--version``: which version of that plan (show, export).
VersionOption = Annotated[int | None, typer.Option("--version", help="Version (default latest).")]


@plan_app.command("show")
def plan_show(
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
    plan_key: PlanKeyOption = None,
    version: VersionOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan content as JSON.")
    ] = False,
) -> None:
    """Print a plan version (the latest by default) and the plan's history of versions."""
    with open_registry(registry_path(config, registry)) as store:
        shown_version = _plan_version(store, plan_key, version)
        history = store.plan_history(shown_version.info.plan_key)
    if as_json:
        document = json.dumps(
            shown_version.plan.model_dump(mode="json"), indent=2, ensure_ascii=False
        )
        typer.echo(json_for_terminal(document))
        return
    _print_plan(shown_version)
    say(console, "history:")
    for info in history:
        say(
            console,
            f"  v{info.version} {format_time(info.loaded_at)} by {info.loaded_by} "
            f"({info.source_name}) {info.digest[:19]}",
        )
        for change in info.changes:
            say(console, f"      {change}")


OutFileOption = Annotated[
    Path, typer.Option("--out", "-o", help="File to write (replaced atomically).")
]


@plan_app.command("template")
def plan_template(out: OutFileOption) -> None:
    """Write the empty plan workbook: its sheets, headers (中文 and English), drop-down lists,
    checks on dates and amounts, and an instructions sheet (docs/plan-workbook.md)."""
    from collector.plan.workbook import plan_workbook_bytes  # loads openpyxl

    write_output(out, plan_workbook_bytes(None))
    say(console, f"wrote the plan template {out}; fill it in, then run plan validate {out}")


@plan_app.command("export")
def plan_export(
    out: OutFileOption,
    file: Annotated[
        Path | None,
        typer.Argument(help="Plan file to convert (YAML or .xlsx); without it, from --config."),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="xlsx or yaml (default: from the --out name).")
    ] = "",
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
    plan_key: PlanKeyOption = None,
    version: VersionOption = None,
) -> None:
    """Write a plan as a workbook or YAML: a plan file converted, or a version in the registry.

    Export, load and export again gives the same content. Exit codes: 0 written; 1 an invalid
    plan or no such plan; 2 an unreadable file or registry, or an unknown format; 3 the file
    cannot be written.
    """
    chosen = output_format or ("xlsx" if out.suffix.lower() == ".xlsx" else "yaml")
    if chosen not in ("xlsx", "yaml"):
        raise error_exit(f"--format {chosen}: expected xlsx or yaml", EXIT_UNREADABLE)
    if file is not None:
        code, loaded = validate_plan_file(file, err_console)
        if loaded is None:
            raise typer.Exit(code)
        plan = loaded.plan
    else:
        plan = _registry_plan(registry_path(config, registry), plan_key, version)
    if chosen == "xlsx":
        from collector.plan.workbook import plan_workbook_bytes

        write_output(out, plan_workbook_bytes(plan))
    else:
        write_output(out, plan_yaml(plan).encode("utf-8"))
    say(console, f"wrote plan {plan.key} as {chosen} to {out}")


def _registry_plan(path: RegistryLocation, plan_key: str | None, version: int | None) -> Plan:
    with open_registry(path) as store:
        return _plan_version(store, plan_key, version).plan


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command group to ``app``."""
    app.add_typer(plan_app, name="plan")
