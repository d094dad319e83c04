"""``retrofit-collector agents``: the agents of a loaded plan and their public keys.

Every command takes the collector's configuration, ``--config PATH`` (or
``RV_COLLECTOR_CONFIG``), and works on the registry it names (the old ``--registry PATH`` still
works, with a warning). Exit codes as for ``plan``: 0 done, 1 refused (conflict, not found, bad
value, an invalid configuration), 2 the configuration cannot be read or the registry opened.
"""

from __future__ import annotations

from typing import Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    ByOption,
    ConfigOption,
    RegistryOption,
    console,
    count,
    open_registry,
    refuse,
    registry_path,
)
from collector.errors import CollectorError
from collector.registry.records import format_time
from contract.terminal import say

__all__ = ["register"]

agents_app = typer.Typer(help="Agents and their public keys: add, revoke, list.")


@agents_app.command("add")
def agents_add(
    agent: Annotated[str, typer.Argument(help="Agent id (as in the agent's configuration).")],
    platform: Annotated[str, typer.Option("--platform", help="Platform id in the plan.")],
    enterprise: Annotated[str, typer.Option("--enterprise", help="Enterprise id in the plan.")],
    key: Annotated[str, typer.Option("--key", help="Public key, ed25519:<base64>.")],
    device: Annotated[list[str], typer.Option("--device", help="A device it reports (repeat).")],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Register an agent of an enterprise in a loaded plan, with its key and devices."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            entry = store.add_agent(
                agent, platform=platform, enterprise=enterprise, public_key=key,
                devices=device, by=by,
            )  # fmt: skip
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    say(
        console,
        f"agent {entry.agent_id} registered for {entry.platform}/{entry.enterprise} "
        f"({', '.join(entry.devices)}) by {entry.added_by}",
    )


@agents_app.command("revoke")
def agents_revoke(
    agent: Annotated[str, typer.Argument(help="Agent id.")],
    by: ByOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit).")],
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
) -> None:
    """Revoke an agent's key: its later messages are quarantined as revoked_key."""
    with open_registry(registry_path(config, registry)) as store:
        try:
            entry = store.revoke_agent(agent, by=by, reason=reason)
        except (CollectorError, ValueError) as exc:
            raise refuse(exc) from None
    revoked_at = format_time(entry.revoked_at) if entry.revoked_at else "?"
    say(console, f"agent {entry.agent_id} revoked since {revoked_at} by {entry.revoked_by}")


@agents_app.command("list")
def agents_list(
    config: ConfigOption = DEFAULT_CONFIG,
    registry: RegistryOption = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
) -> None:
    """List registered agents: enterprise, devices, state, last seen."""
    with open_registry(registry_path(config, registry)) as store:
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
        say(
            console,
            f"{entry.agent_id}  {entry.platform}/{entry.enterprise}  "
            f"[{', '.join(entry.devices)}]  {state}",
        )
    say(console, count(len(entries), "agent"))


def register(app: typer.Typer) -> None:
    """Add the ``agents`` command group to ``app``."""
    app.add_typer(agents_app, name="agents")
