"""Object-level authorisation: resolve an id to an object the caller may see, or 404.

Every handler that takes a province, platform, enterprise, agent, bundle or quarantine id goes
through one function here. "Not yours" and "does not exist" give the same 404 with the same
words, so a platform engineer cannot learn which ids another platform uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.registry import AgentEntry, Registry
from collector.web.directory import Directory, EnterpriseRef, PlatformRef, ProvinceRef
from collector.web.principal import Principal
from collector.web.problems import Problem
from contract.wire import TOPIC_ROOT

__all__ = [
    "agent_in_scope",
    "audit_subjects",
    "enterprise_in_scope",
    "platform_in_scope",
    "province_in_scope",
    "quarantine_scope",
    "visible_platforms",
]


def _not_found(what: str, key: str) -> Problem:
    return Problem(404, f"no {what} {key[:80]!r} that you may see")


def province_in_scope(principal: Principal, directory: Directory, code: str) -> ProvinceRef:
    """The province with this code if the caller sees it; else Problem 404."""
    province = directory.provinces.get(code)
    if province is None or not principal.sees_province(code):
        raise _not_found("province", code)
    return province


def platform_in_scope(principal: Principal, directory: Directory, platform_id: str) -> PlatformRef:
    """The platform with this id if the caller sees it; else Problem 404."""
    platform = directory.platforms.get(platform_id)
    if platform is None or not principal.sees(platform.province.code, platform.id):
        raise _not_found("platform", platform_id)
    return platform


def enterprise_in_scope(
    principal: Principal, directory: Directory, enterprise_id: str
) -> EnterpriseRef:
    """The enterprise with this id if the caller sees its platform; else Problem 404."""
    found = directory.enterprises.get(enterprise_id)
    if found is None or not principal.sees(found.province_code, found.platform.id):
        raise _not_found("enterprise", enterprise_id)
    return found


def visible_platforms(principal: Principal, directory: Directory) -> list[PlatformRef]:
    """Every platform the caller sees, by plan key then id."""
    found = [p for p in directory.platforms.values() if principal.sees(p.province.code, p.id)]
    return sorted(found, key=lambda p: (p.plan_key, p.id))


def _agent_visible(principal: Principal, directory: Directory, agent: AgentEntry) -> bool:
    if principal.national:
        return True
    platform = directory.platforms.get(agent.platform)
    return platform is not None and principal.sees(platform.province.code, platform.id)


def agent_in_scope(
    principal: Principal, directory: Directory, registry: Registry, agent_id: str
) -> AgentEntry:
    """The registered agent if the caller sees its platform; else Problem 404."""
    agent = registry.agent_identity(agent_id)
    if agent is None or not _agent_visible(principal, directory, agent):
        raise _not_found("agent", agent_id)
    return agent


def visible_agents(
    principal: Principal, directory: Directory, registry: Registry
) -> list[AgentEntry]:
    """Every registered agent the caller sees."""
    return [a for a in registry.agents() if _agent_visible(principal, directory, a)]


def quarantine_scope(
    principal: Principal, directory: Directory, registry: Registry
) -> tuple[Sequence[str], Sequence[str]] | None:
    """(topic prefixes, agent ids) of the quarantine the caller sees; None for national roles.

    Messages on no platform's topic (garbage, unknown platforms) are seen nationally only.
    """
    if principal.national:
        return None
    prefixes = [f"{TOPIC_ROOT}/{p.id}/" for p in visible_platforms(principal, directory)]
    agents = [a.agent_id for a in visible_agents(principal, directory, registry)]
    return prefixes, agents


def audit_subjects(
    principal: Principal, directory: Directory, registry: Registry
) -> list[str] | None:
    """Audit subjects the caller sees (None: all): their plans (provincial roles), agents,
    enterprises (``platform/enterprise``), and their own user entries."""
    if principal.national:
        return None
    subjects = [f"user:{principal.user_id}"]
    if principal.role != "platform" and principal.province is not None:
        subjects += (
            list(directory.provinces[principal.province].plan_keys)
            if (principal.province in directory.provinces)
            else []
        )
    for platform in visible_platforms(principal, directory):
        subjects += [f"{platform.id}/{e.id}" for e in platform.platform.enterprises]
    subjects += [a.agent_id for a in visible_agents(principal, directory, registry)]
    return subjects
