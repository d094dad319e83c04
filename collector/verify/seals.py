"""Each day seal on its own: whose it is, under which key it verifies, what it may speak for.

The trust root is the reviewer's plan (D8, docs/verify.md): a seal verifies only under the key
the plan lists for its agent, and only for the devices the plan gives that agent, in the
enterprise's zone, platform and enterprise. ``agent-keys.json`` is consulted for one thing: a
seal whose agent the plan does not list is checked against it, and at best is ``not
anchored``. Every refusal is a finding naming agent, device and day.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.plan import AgentPlan, Enterprise, Platform
from collector.proof import AgentKeysFile, BundleDaySeal
from collector.verify.findings import Finding, FindingCode, Report
from collector.verify.load import TrustRoot
from contract.wire import BadSignature, DaySeal, public_key_from_text, verify

__all__ = ["SealScope", "check_seals"]


@dataclass(frozen=True, slots=True)
class SealScope:
    """What the bundle's seals must belong to: the plan's platform and enterprise."""

    trust: TrustRoot
    platform: Platform
    enterprise: Enterprise
    #: The bundle's ``agent-keys.json``, informational; None when absent or unreadable.
    bundle_keys: AgentKeysFile | None


def _finding(
    scope: SealScope,
    seal: DaySeal,
    code: FindingCode,
    field: str,
    *,
    detail: str = "",
    bundle_value: object = None,
    expected_value: object = None,
    bundle_label: str = "seal",
    expected_label: str = "plan",
) -> Finding:
    return Finding(
        code=code,
        enterprise=scope.enterprise.id,
        agent=seal.agent,
        device=seal.device,
        day=seal.day.isoformat(),
        field=field,
        bundle_value=bundle_value,
        expected_value=expected_value,
        detail=detail,
        bundle_label=bundle_label,
        expected_label=expected_label,
    )


def _bundle_key(scope: SealScope, agent_id: str) -> str | None:
    if scope.bundle_keys is None:
        return None
    for agent in scope.bundle_keys.agents:
        if agent.agent == agent_id:
            return agent.public_key
    return None


def _signature_holds(seal: DaySeal, key_text: str) -> bool:
    try:
        verify(seal, public_key_from_text(key_text))
    except (BadSignature, ValueError):
        return False
    return True


def _unlisted(scope: SealScope, seal: DaySeal, report: Report) -> bool:
    """A seal whose agent no enterprise of the plan lists: not anchored at best."""
    if seal.enterprise != scope.enterprise.id:
        report.add(_wrong_enterprise(scope, seal, seal.enterprise))
        return False
    key = _bundle_key(scope, seal.agent)
    if key is None or not _signature_holds(seal, key):
        report.add(
            _finding(scope, seal, "seal_bad_signature", "sig", detail=(
                f"agent {seal.agent} is not in the plan, and the seal does not verify under "
                f"the key agent-keys.json gives it ({key or 'none'})"
            ))
        )  # fmt: skip
        return False
    report.add(
        _finding(scope, seal, "not_anchored", "agent", detail=(
            f"agent {seal.agent} is not in your plan; the seal verifies only under the key "
            f"the bundle itself gives ({key}), which proves nothing"
        ))
    )  # fmt: skip
    return True


def _wrong_enterprise(scope: SealScope, seal: DaySeal, theirs: str) -> Finding:
    return _finding(
        scope, seal, "seal_wrong_enterprise", "enterprise",
        bundle_value=theirs, expected_value=scope.enterprise.id, expected_label="bundle",
        detail=f"a seal of {theirs}'s agent {seal.agent} in {scope.enterprise.id}'s bundle",
    )  # fmt: skip


def _listed(scope: SealScope, seal: DaySeal, enterprise: Enterprise, agent: AgentPlan) -> (
    Finding | None
):  # fmt: skip
    """The first thing wrong with a seal of an agent the plan lists; None if it holds."""
    if enterprise.id != scope.enterprise.id or seal.enterprise != scope.enterprise.id:
        theirs = enterprise.id if enterprise.id != scope.enterprise.id else seal.enterprise
        return _wrong_enterprise(scope, seal, theirs)
    if not _signature_holds(seal, agent.public_key):
        other = _bundle_key(scope, seal.agent)
        quoted = ""
        if other is not None and other != agent.public_key:
            quoted = f"; agent-keys.json gives it another key, {other}"
        return _finding(
            scope, seal, "seal_bad_signature", "sig", expected_value=agent.public_key,
            expected_label="plan key",
            detail=f"does not verify under {seal.agent}'s key in your plan{quoted}",
        )  # fmt: skip
    if seal.platform != scope.platform.id:
        return _finding(
            scope, seal, "seal_wrong_platform", "platform", bundle_value=seal.platform,
            expected_value=scope.platform.id,
        )  # fmt: skip
    if seal.device not in agent.devices:
        return _finding(
            scope, seal, "seal_unknown_device", "device", bundle_value=seal.device,
            expected_value=list(agent.devices),
        )  # fmt: skip
    if seal.tz != scope.enterprise.timezone:
        return _finding(
            scope, seal, "seal_wrong_zone", "tz", bundle_value=seal.tz,
            expected_value=scope.enterprise.timezone,
        )  # fmt: skip
    return None


def check_seals(
    scope: SealScope, seals: list[BundleDaySeal], report: Report
) -> tuple[list[BundleDaySeal], list[BundleDaySeal]]:
    """(the seals that hold, the seals of this enterprise's agents that do not).

    A seal holds when it verifies under its agent's key in the plan and names the plan's
    platform, enterprise, one of that agent's devices and the enterprise's zone; or, for an
    agent the plan does not list, under the bundle's own key (recorded ``not anchored``). The
    second list (bad signatures, wrong devices or zones of our agents) still joins the chain
    check: its indexes are not missing, they are forged. Findings go into ``report``.
    """
    holding: list[BundleDaySeal] = []
    refused: list[BundleDaySeal] = []
    for line in seals:
        seal = line.seal
        listed = scope.trust.agent(seal.agent)
        if listed is None:
            if _unlisted(scope, seal, report):
                holding.append(line)
            continue
        problem = _listed(scope, seal, *listed)
        if problem is None:
            holding.append(line)
            continue
        report.add(problem)
        if problem.code != "seal_wrong_enterprise":
            refused.append(line)
    return holding, refused
