"""What the verifier found: findings (exit 1), keys the plan does not list (exit 3), notes.

A :class:`Finding` names the enterprise, agent, device, day and field it is about, and both
values: what the bundle says and what the verifier expected (a seal's figure, a recomputed
figure, a hash). :class:`Report` collects them and decides the exit code (docs/verify.md):
0 ``verified``, 1 ``not verified`` (a finding), 3 ``not anchored`` (nothing contradicts, but
some seal rests on a key the reviewer's plan does not list). Findings win over 3. Exit 2 (the
bundle or plan cannot be read) is :mod:`collector.verify.errors`' and the command line's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "EXIT_NOT_ANCHORED",
    "EXIT_NOT_VERIFIED",
    "EXIT_UNREADABLE",
    "EXIT_VERIFIED",
    "Finding",
    "FindingCode",
    "Report",
    "finding_line",
]

EXIT_VERIFIED: Final = 0
EXIT_NOT_VERIFIED: Final = 1
#: The project's EXIT_UNREADABLE (collector/cli/_common.py), repeated: the verifier imports no cli.
EXIT_UNREADABLE: Final = 2
EXIT_NOT_ANCHORED: Final = 3

#: Every finding's code; docs/verify.md says what each means.
FindingCode = Literal[
    "manifest_invalid",
    "manifest_mismatch",
    "manifest_unlisted",
    "unsigned",
    "signature_invalid",
    "signature_differs",
    "collector_key_mismatch",
    "plan_digest_differs",
    "enterprise_not_in_plan",
    "evidence_invalid",
    "seals_invalid",
    "seal_unreadable",
    "seal_bad_signature",
    "seal_wrong_enterprise",
    "seal_wrong_platform",
    "seal_unknown_device",
    "seal_wrong_zone",
    "chain_broken",
    "chain_start_late",
    "version_broken",
    "device_day_differs",
    "device_day_unsealed",
    "device_day_duplicate",
    "sealed_day_missing",
    "figure_differs",
    "recompute_failed",
    "not_anchored",
]


@dataclass(frozen=True, slots=True)
class Finding:
    """One contradiction (or, with code ``not_anchored``, one seal the plan cannot vouch for).

    ``bundle_value`` is what the bundle says, ``expected_value`` what the verifier expected;
    ``bundle_label`` and ``expected_label`` say where each comes from (``evidence.json``,
    ``seal``, ``recomputed``, ``plan``...). Empty strings where a part does not apply.
    """

    code: FindingCode
    enterprise: str
    agent: str = ""
    device: str = ""
    day: str = ""
    field: str = ""
    bundle_value: Any = None
    expected_value: Any = None
    detail: str = ""
    bundle_label: str = "bundle"
    expected_label: str = "expected"

    def as_json(self) -> dict[str, Any]:
        """The finding as a JSON object (``--json``); values as the bundle held them."""
        return {key: _json_value(value) for key, value in asdict(self).items()}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)


def finding_line(finding: Finding) -> str:
    """One line: ``ent-01 press-3 2026-05-04 run_s: evidence.json 28800.0, seal 27000.0
    (device_day_differs)``, then the detail if any."""
    where = " ".join(part for part in (finding.enterprise, finding.agent, finding.device,
                                          finding.day) if part)  # fmt: skip
    text = where
    if finding.field:
        text += f" {finding.field}"
    if finding.bundle_value is not None or finding.expected_value is not None:
        text += (
            f": {finding.bundle_label} {_shown(finding.bundle_value)}, "
            f"{finding.expected_label} {_shown(finding.expected_value)}"
        )
    text += f" ({finding.code})"
    if finding.detail:
        text += f": {finding.detail}"
    return text


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."


@dataclass(slots=True)
class Report:
    """Everything one run found about one enterprise bundle."""

    enterprise: str
    findings: list[Finding] = field(default_factory=list)
    #: Seals whose agent the reviewer's plan does not list (code ``not_anchored``).
    unanchored: list[Finding] = field(default_factory=list)
    #: What a reviewer should read besides: the collector key, where each chain ends, versions.
    notes: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        """Record ``finding`` (a ``not_anchored`` one goes with the unanchored)."""
        if finding.code == "not_anchored":
            self.unanchored.append(finding)
        else:
            self.findings.append(finding)

    @property
    def exit_code(self) -> int:
        """1 with any finding, else 3 with any unanchored seal, else 0."""
        if self.findings:
            return EXIT_NOT_VERIFIED
        if self.unanchored:
            return EXIT_NOT_ANCHORED
        return EXIT_VERIFIED

    @property
    def verdict(self) -> str:
        """``verified``, ``not verified`` or ``not anchored``."""
        return {EXIT_VERIFIED: "verified", EXIT_NOT_VERIFIED: "not verified"}.get(
            self.exit_code, "not anchored"
        )

    def codes(self) -> list[str]:
        """The codes found, in order, for tests and summaries."""
        return [finding.code for finding in self.findings]
