"""The broker's access list (a mosquitto ``acl_file``), written from the registry.

Each registered agent may publish only its own three topics, ``rv/v1/<platform>/<enterprise>/
<agent>/windows``, ``.../status`` and ``.../day_seals``, under its agent id as MQTT user name:
a stolen gateway password cannot publish as another agent or another enterprise (the collector
would quarantine such a message anyway; the broker refuses it first). Each agent reads one
topic, its own ``.../confirmations``: the collector's delivery confirmations are for it alone
(#19). Revoked agents get no line at all. The collector's user reads everything under
``rv/v1`` and publishes only confirmations; the healthcheck user reads one ``$SYS`` topic.

Pure: registry entries in, file text out. ``retrofit-collector broker acl`` writes it;
mosquitto reloads it on SIGHUP (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from collector.registry import AgentEntry
from contract import wire

__all__ = ["acl_text"]

# A user name or topic level with whitespace, '#', '+' or '/' would change what a line means.
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


def _safe(value: str, what: str) -> str:
    if not _SAFE.fullmatch(value):
        raise ValueError(f"{what} {value!r} cannot go into a mosquitto ACL line")
    return value


def acl_text(
    agents: Iterable[AgentEntry],
    *,
    collector_user: str = "collector",
    healthcheck_user: str | None = "healthcheck",
    now: dt.datetime | None = None,
) -> str:
    """The ACL file for these agents (revoked ones left out); ValueError for an unsafe name."""
    at = now or dt.datetime.now(dt.UTC)
    lines = [
        "# Written by `retrofit-collector broker acl` from the registry: do not edit by hand.",
        "# Run it again after agents are added or revoked, then SIGHUP mosquitto.",
        "",
        "# The collector (every ingest replica): reads windows, seals and status, and",
        "# publishes only delivery confirmations.",
        f"user {_safe(collector_user, 'collector user')}",
        f"topic read {wire.TOPIC_ROOT}/#",
        f"topic write {wire.TOPIC_ROOT}/+/+/+/confirmations",
    ]
    if healthcheck_user is not None:
        lines += [
            "",
            "# The container healthcheck: one $SYS topic, nothing else.",
            f"user {_safe(healthcheck_user, 'healthcheck user')}",
            "topic read $SYS/broker/uptime",
        ]
    for entry in sorted(agents, key=lambda a: (a.platform, a.enterprise, a.agent_id)):
        if entry.revoked_as_of(at):
            continue
        names = (
            _safe(entry.platform, "platform"),
            _safe(entry.enterprise, "enterprise"),
            _safe(entry.agent_id, "agent"),
        )
        lines += [
            "",
            f"user {names[2]}",
            f"topic write {wire.windows_topic(*names)}",
            f"topic write {wire.status_topic(*names)}",
            f"topic write {wire.day_seals_topic(*names)}",
            f"topic read {wire.confirmations_topic(*names)}",
        ]
    return "\n".join(lines) + "\n"
