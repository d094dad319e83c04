"""``retrofit-collector plan|agents|quarantine``: the registry's command line.

:func:`register` adds the three command groups to the collector's Typer app. Every command
takes ``--registry PATH`` (or ``RV_REGISTRY``). Exit codes: 0 done, 1 refused (invalid plan,
conflict, not found), 2 unreadable input (a plan file that cannot be read, a registry that
cannot be opened). A user mistake never prints a traceback.

Every line goes out through :func:`contract.terminal.say`: registry text (a plan's names, who
loaded it, a revocation's reason, a quarantined message's topic and bytes) is hostile input,
printed with rich markup off and control characters escaped, so it cannot restyle or drive
the terminal. ``plan show --json`` escapes them the JSON way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from collector.errors import CollectorError, IdCollision, IdCollisionError, RegistryUnavailable
from collector.plan import (
    Enterprise,
    LoadedPlan,
    PlanFileError,
    PlanInvalidError,
    collision_issues,
    load_plan,
)
from collector.registry import Registry
from collector.registry.records import PlanVersion, QuarantineEntry, format_time
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

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_UNREADABLE = 2
#: Bytes of a quarantined message ``quarantine show`` prints as hex.
PREVIEW_BYTES = 512

console = Console()
err_console = Console(stderr=True)

RegistryOption = Annotated[
    Path,
    typer.Option(
        "--registry", envvar="RV_REGISTRY", help="Registry database (SQLite), shared by processes."
    ),
]
CheckRegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        envvar="RV_REGISTRY",
        help="Also check the plan's ids against this registry's other plans (never created).",
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Who makes the change (kept in the audit).")]
DEFAULT_REGISTRY = Path("registry.sqlite")


def _plain(out: Console, text: str, style: str | None = None) -> None:
    say(out, text, style or "")


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


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
        summary = f"{path}: {_count(len(exc.issues), 'error')}"
        if exc.warnings:
            summary += f", {_count(len(exc.warnings), 'warning')}"
        _plain(out, summary + "; fix the errors and run plan validate again")
        return EXIT_ERRORS, None
    print_issues(out, loaded.warnings)
    plan = loaded.plan
    enterprises = sum(len(platform.enterprises) for platform in plan.platforms)
    agents = sum(len(e.agents) for p in plan.platforms for e in p.enterprises)
    _plain(
        out,
        f"{path}: OK: plan {plan.key} ({plan.province.name}, batch {plan.batch_year}), "
        f"{_count(len(plan.sub_industries), 'sub-industry', 'sub-industries')}, "
        f"{_count(len(plan.platforms), 'platform')}, {_count(enterprises, 'enterprise')}, "
        f"{_count(agents, 'agent')}, {_count(len(loaded.warnings), 'warning')}",
    )
    return EXIT_OK, loaded


def _print_collisions(
    out: Console, loaded: LoadedPlan, collisions: Sequence[IdCollision], registry: Path
) -> None:
    print_issues(out, collision_issues(loaded, collisions, registry))
    _plain(
        out,
        f"{loaded.source}: plan {loaded.plan.key} reuses "
        f"{_count(len(collisions), 'id')} of other plans; give them new ids (only a new "
        "version of the plan that holds an id may keep it)",
    )


def check_plan_ids(loaded: LoadedPlan, store: Registry, out: Console) -> int:
    """The cross-plan id check: print its outcome and return the exit code (0 or 1)."""
    collisions = store.plan_id_collisions(loaded.plan)
    if collisions:
        _print_collisions(out, loaded, collisions, store.path)
        return EXIT_ERRORS
    others = [key for key in store.plan_keys() if key != loaded.plan.key]
    _plain(
        out,
        f"cross-plan id check: ran against registry {store.path} "
        f"({_count(len(others), 'other plan')}): no id of plan {loaded.plan.key} is held by "
        "another plan",
    )
    return EXIT_OK


def _open(path: Path) -> Registry:
    try:
        return Registry(path)
    except RegistryUnavailable as exc:
        _plain(err_console, f"error: {exc}", "red")
        raise typer.Exit(EXIT_UNREADABLE) from None


def _fail(exc: CollectorError | ValueError) -> typer.Exit:
    _plain(err_console, f"error: {exc}", "red")
    code = EXIT_UNREADABLE if isinstance(exc, RegistryUnavailable) else EXIT_ERRORS
    return typer.Exit(code)


# --- plan -------------------------------------------------------------------------------------

plan_app = typer.Typer(help="The implementation plan (实施方案): validate, load, show.")


@plan_app.command("validate")
def plan_validate(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
    registry: CheckRegistryOption = None,
) -> None:
    """Check a plan: schema and programme rules, every error with file, line and key path.

    With --registry (or RV_REGISTRY) also check that no other plan in that registry holds
    one of its platform, enterprise or agent ids; the output says whether that check ran.
    Exit code 0 if valid (warnings may be printed), 1 if it has errors or reuses another
    plan's ids, 2 if the file or the registry is unreadable.
    """
    code, loaded = validate_plan_file(file, console)
    if loaded is None:
        raise typer.Exit(code)
    if registry is None:
        _plain(
            console,
            "cross-plan id check: not run (no registry; give --registry PATH or set "
            "RV_REGISTRY to check the ids against the collector's other plans)",
        )
        raise typer.Exit(code)
    if not registry.is_file():
        _plain(
            err_console,
            f"error: registry {registry}: no such file (validate never creates one)",
            "red",
        )
        raise typer.Exit(EXIT_UNREADABLE)
    with _open(registry) as store:
        raise typer.Exit(check_plan_ids(loaded, store, console))


@plan_app.command("load")
def plan_load(
    file: Annotated[Path, typer.Argument(help="Plan file (YAML).")],
    by: ByOption,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Validate a plan and store it as a new version if its content changed (idempotent)."""
    code, loaded = validate_plan_file(file, console)
    if loaded is None:
        raise typer.Exit(code)
    with _open(registry) as store:
        if check_plan_ids(loaded, store, console) != EXIT_OK:
            raise typer.Exit(EXIT_ERRORS)
        try:
            result = store.load_plan(loaded, by=by)
        except IdCollisionError as exc:  # another load won the race since the check above
            _print_collisions(err_console, loaded, exc.collisions, registry)
            raise typer.Exit(EXIT_ERRORS) from None
        except (CollectorError, ValueError) as exc:
            raise _fail(exc) from None
    for note in result.notes:
        _plain(console, f"note: {note}", "yellow")
    if result.agents_added:
        _plain(console, f"agents added: {', '.join(result.agents_added)}")
    if result.agents_updated:
        _plain(console, f"agents with changed devices: {', '.join(result.agents_updated)}")
    if not result.created:
        _plain(console, f"plan {result.plan_key}: unchanged, still version {result.version}")
        return
    _plain(console, f"plan {result.plan_key}: version {result.version} stored, by {by}")
    for change in result.changes:
        _plain(console, f"  {change}")


def _print_plan(version: PlanVersion) -> None:
    plan, info = version.plan, version.info
    _plain(
        console,
        f"plan {info.plan_key} version {info.version} ({info.digest}), loaded "
        f"{format_time(info.loaded_at)} by {info.loaded_by} from {info.source_name}",
    )
    _plain(console, f"{plan.province.name} ({plan.province.code}), batch {plan.batch_year}")
    for platform in plan.platforms:
        _plain(console, f"{platform.id} {platform.name} (sub-industry {platform.sub_industry})")
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
        _plain(console, line)


@plan_app.command("show")
def plan_show(
    registry: RegistryOption = DEFAULT_REGISTRY,
    plan_key: Annotated[
        str | None, typer.Option("--plan", help="Plan key <province code>-<batch year>.")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="Version (default latest).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan content as JSON.")
    ] = False,
) -> None:
    """Print a plan version (the latest by default) and the plan's history of versions."""
    with _open(registry) as store:
        keys = store.plan_keys()
        if plan_key is None:
            if len(keys) != 1:
                shown = ", ".join(keys) or "none loaded"
                raise _fail(ValueError(f"choose a plan with --plan (plans: {shown})"))
            plan_key = keys[0]
        try:
            shown_version = store.plan_version(plan_key, version)
        except CollectorError as exc:
            raise _fail(exc) from None
        history = store.plan_history(plan_key)
    if as_json:
        document = json.dumps(
            shown_version.plan.model_dump(mode="json"), indent=2, ensure_ascii=False
        )
        typer.echo(json_for_terminal(document))
        return
    _print_plan(shown_version)
    _plain(console, "history:")
    for info in history:
        _plain(
            console,
            f"  v{info.version} {format_time(info.loaded_at)} by {info.loaded_by} "
            f"({info.source_name}) {info.digest[:19]}",
        )
        for change in info.changes:
            _plain(console, f"      {change}")


# --- agents -----------------------------------------------------------------------------------

agents_app = typer.Typer(help="Agents and their public keys: add, revoke, list.")


@agents_app.command("add")
def agents_add(
    agent: Annotated[str, typer.Argument(help="Agent id (as in the agent's configuration).")],
    platform: Annotated[str, typer.Option("--platform", help="Platform id in the plan.")],
    enterprise: Annotated[str, typer.Option("--enterprise", help="Enterprise id in the plan.")],
    key: Annotated[str, typer.Option("--key", help="Public key, ed25519:<base64>.")],
    device: Annotated[list[str], typer.Option("--device", help="A device it reports (repeat).")],
    by: ByOption,
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Register an agent of an enterprise in a loaded plan, with its key and devices."""
    with _open(registry) as store:
        try:
            entry = store.add_agent(
                agent, platform=platform, enterprise=enterprise, public_key=key,
                devices=device, by=by,
            )  # fmt: skip
        except (CollectorError, ValueError) as exc:
            raise _fail(exc) from None
    _plain(
        console,
        f"agent {entry.agent_id} registered for {entry.platform}/{entry.enterprise} "
        f"({', '.join(entry.devices)}) by {entry.added_by}",
    )


@agents_app.command("revoke")
def agents_revoke(
    agent: Annotated[str, typer.Argument(help="Agent id.")],
    by: ByOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")],
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Revoke an agent's key: its later messages are quarantined as revoked_key."""
    with _open(registry) as store:
        try:
            entry = store.revoke_agent(agent, by=by, reason=reason)
        except (CollectorError, ValueError) as exc:
            raise _fail(exc) from None
    revoked_at = format_time(entry.revoked_at) if entry.revoked_at else "?"
    _plain(console, f"agent {entry.agent_id} revoked since {revoked_at} by {entry.revoked_by}")


@agents_app.command("list")
def agents_list(
    registry: RegistryOption = DEFAULT_REGISTRY,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
) -> None:
    """List registered agents: enterprise, devices, state, last seen."""
    with _open(registry) as store:
        entries = store.agents(platform=platform)
        statuses = {entry.agent_id: store.agent_status(entry.agent_id) for entry in entries}
    for entry in entries:
        status = statuses[entry.agent_id]
        if entry.revoked_at is not None:
            state = f"revoked since {format_time(entry.revoked_at)} ({entry.revoke_reason})"
        elif status is None:
            state = "never seen"
        else:
            state = (
                f"{status.state}, last seen {format_time(status.last_seen)}, "
                f"version {status.agent_version}, outbox {status.outbox_depth}"
            )
        _plain(
            console,
            f"{entry.agent_id}  {entry.platform}/{entry.enterprise}  "
            f"[{', '.join(entry.devices)}]  {state}",
        )
    _plain(console, _count(len(entries), "agent"))


# --- quarantine -------------------------------------------------------------------------------

quarantine_app = typer.Typer(help="Messages the ingest rejected: list, show, export.")


def _since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        message = f"--since {text!r}: expected ISO 8601, e.g. 2026-05-01T08:00+08:00"
        raise _fail(ValueError(message)) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@quarantine_app.command("list")
def quarantine_list(
    registry: RegistryOption = DEFAULT_REGISTRY,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason code.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time; UTC if no offset.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most entries shown.")] = 100,
) -> None:
    """List quarantined messages, newest first, with counts per reason."""
    start = _since(since)
    with _open(registry) as store:
        entries = store.quarantine_list(reason=reason, since=start, limit=limit)
        counts = store.quarantine_counts()
    for entry in entries:
        _plain(
            console,
            f"{entry.id}  {format_time(entry.received_at)}  {entry.reason}  "
            f"agent={entry.agent_id or '-'}  {entry.raw_length} bytes  "
            f"topic={entry.topic[:80]}  {entry.detail[:100]}",
        )
    totals = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
    _plain(console, f"{_count(len(entries), 'entry', 'entries')} shown; by reason: {totals}")


def _hex_lines(raw: bytes) -> list[str]:
    lines = []
    for offset in range(0, len(raw), 16):
        chunk = raw[offset : offset + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {chunk.hex(' '):<47}  {text}")
    return lines


def _print_entry(entry: QuarantineEntry) -> None:
    for label, value in (
        ("id", str(entry.id)),
        ("received", format_time(entry.received_at)),
        ("reason", entry.reason),
        ("agent", entry.agent_id or "-"),
        ("topic", entry.topic),
        ("detail", entry.detail),
        ("length", f"{entry.raw_length} bytes ({len(entry.raw)} kept)"),
        ("sha256", entry.raw_sha256),
    ):
        _plain(console, f"{label:>9}: {value}")
    try:
        text = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        _plain(console, "     utf-8: (not UTF-8 text)")
    else:
        _plain(console, f"     utf-8: {text[:2000]}")
    _plain(console, f"       hex: first {min(PREVIEW_BYTES, len(entry.raw))} bytes")
    for line in _hex_lines(entry.raw[:PREVIEW_BYTES]):
        _plain(console, f"  {line}")


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(metavar="ID", help="Quarantine entry id.")],
    registry: RegistryOption = DEFAULT_REGISTRY,
) -> None:
    """Show one quarantined message: reason, topic, detail, UTF-8 and hex preview."""
    with _open(registry) as store:
        entry = store.quarantine_get(entry_id)
    if entry is None:
        _plain(err_console, f"error: no quarantine entry {entry_id} in {registry}", "red")
        raise typer.Exit(EXIT_ERRORS)
    _print_entry(entry)


@quarantine_app.command("export")
def quarantine_export(
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    registry: RegistryOption = DEFAULT_REGISTRY,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason code.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO time; UTC if no offset.")
    ] = None,
) -> None:
    """Write quarantined messages as JSON lines (bytes in base64), oldest first."""
    start = _since(since)
    with _open(registry) as store:
        try:
            with out.open("w", encoding="utf-8") as stream:
                count = store.quarantine_export(stream, reason=reason, since=start)
        except OSError as exc:
            _plain(err_console, f"error: {out}: {exc.strerror or exc}", "red")
            raise typer.Exit(EXIT_UNREADABLE) from None
    _plain(console, f"{_count(count, 'entry', 'entries')} written to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``plan``, ``agents`` and ``quarantine`` command groups to ``app``."""
    app.add_typer(plan_app, name="plan")
    app.add_typer(agents_app, name="agents")
    app.add_typer(quarantine_app, name="quarantine")
