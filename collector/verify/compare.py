"""Every device-day of ``evidence.json`` against its seal, with ``==``.

The collector feeds the evidence engine the *sealed* figures of every row equal to its seal
(``contract.daysums.row_figures``, docs/evidence-method.md), so an honest bundle's device-days
equal their latest seal part bit for bit: no tolerance here (the float bound τ is the
collector's, between InfluxDB's sums and the agent's). A row is matched to the latest version
of its (agent, device, day) seal, part by provenance. Found: a figure that differs (both
values), a row without a seal, a sealed part inside the evidence's span without its row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from collector.evidence.document import DeviceDayDoc
from collector.proof import BundleDaySeal
from collector.verify.findings import Finding, Report
from contract.daysums import row_figures
from contract.wire import DaySealPart

__all__ = ["FIGURE_FIELDS", "SealedPart", "compare_rows", "latest_parts", "sealed_row"]

_IDENTITY = ("agent", "device", "provenance", "day")
#: The figures of a device-day the seal speaks for: every field but its identity.
FIGURE_FIELDS: Final = tuple(name for name in DeviceDayDoc.model_fields if name not in _IDENTITY)

_Key = tuple[str, str, date, str]


@dataclass(frozen=True, slots=True)
class SealedPart:
    """The latest sealed part of one (agent, device, day, provenance), and its seal's hash."""

    agent: str
    device: str
    day: date
    part: DaySealPart
    seal_sha256: str
    version: int

    @property
    def key(self) -> _Key:
        """(agent, device, day, provenance): a device-day row's key."""
        return (self.agent, self.device, self.day, self.part.provenance)


def latest_parts(seals: Iterable[BundleDaySeal]) -> dict[_Key, SealedPart]:
    """The parts of the newest version of each (agent, device, day), by row key."""
    newest: dict[tuple[str, str, date], BundleDaySeal] = {}
    for line in seals:
        seal = line.seal
        key = (seal.agent, seal.device, seal.day)
        held = newest.get(key)
        if held is None or (seal.version, line.sha256) > (held.seal.version, held.sha256):
            newest[key] = line
    parts: dict[_Key, SealedPart] = {}
    for line in newest.values():
        seal = line.seal
        for part in seal.parts:
            found = SealedPart(seal.agent, seal.device, seal.day, part, line.sha256, seal.version)
            parts[found.key] = found
    return parts


def sealed_row(sealed: SealedPart) -> DeviceDayDoc:
    """The device-day an honest bundle carries for ``sealed``: its figures, exactly."""
    figures = row_figures(sealed.part)
    values: dict[str, Any] = {name: figures[name] for name in FIGURE_FIELDS}
    return DeviceDayDoc(
        agent=sealed.agent,
        device=sealed.device,
        provenance=sealed.part.provenance,
        day=sealed.day,
        **values,
    )


def _row_key(row: DeviceDayDoc) -> _Key:
    return (row.agent, row.device, row.day, row.provenance)


def _differences(enterprise: str, row: DeviceDayDoc, sealed: SealedPart) -> list[Finding]:
    expected = sealed_row(sealed)
    return [
        Finding(
            code="device_day_differs",
            enterprise=enterprise,
            agent=row.agent,
            device=row.device,
            day=row.day.isoformat(),
            field=name if row.provenance == "measured" else f"{name} ({row.provenance})",
            bundle_value=getattr(row, name),
            expected_value=getattr(expected, name),
            bundle_label="evidence.json",
            expected_label="seal",
            detail=f"seal {sealed.seal_sha256[:12]}… version {sealed.version}",
        )
        for name in FIGURE_FIELDS
        if getattr(row, name) != getattr(expected, name)
    ]


def _unsealed(enterprise: str, row: DeviceDayDoc, refused: frozenset[_Key]) -> Finding:
    why = (
        "its seal in the bundle does not hold (see the seal's finding)"
        if _row_key(row) in refused
        else "no seal of this device-day is in the bundle"
    )
    return Finding(
        code="device_day_unsealed", enterprise=enterprise, agent=row.agent, device=row.device,
        day=row.day.isoformat(), field=f"provenance {row.provenance}", detail=why,
    )  # fmt: skip


def compare_rows(
    enterprise: str,
    rows: Iterable[DeviceDayDoc],
    sealed: dict[_Key, SealedPart],
    span: tuple[date, date],
    report: Report,
    refused: frozenset[_Key] = frozenset(),
) -> None:
    """Every row against its sealed part, every sealed part in ``span`` (both days included)
    against its row; findings into ``report``. ``refused``: keys whose only seal did not hold."""
    seen: dict[_Key, int] = defaultdict(int)
    for row in rows:
        key = _row_key(row)
        seen[key] += 1
        if seen[key] == 2:
            report.add(Finding(
                code="device_day_duplicate", enterprise=enterprise, agent=row.agent,
                device=row.device, day=row.day.isoformat(), field=f"provenance {row.provenance}",
                detail="the same device-day is listed twice in evidence.json",
            ))  # fmt: skip
        if key not in sealed:
            report.add(_unsealed(enterprise, row, refused))
            continue
        for finding in _differences(enterprise, row, sealed[key]):
            report.add(finding)
    first, last = span
    for key, part in sorted(sealed.items()):
        if first <= part.day <= last and key not in seen:
            report.add(Finding(
                code="sealed_day_missing", enterprise=enterprise, agent=part.agent,
                device=part.device, day=part.day.isoformat(),
                field=f"provenance {part.part.provenance}", bundle_value="absent",
                expected_value=f"{part.part.windows} windows", bundle_label="evidence.json",
                expected_label="seal",
                detail=f"sealed ({part.seal_sha256[:12]}… version {part.version}) but not in "
                "evidence.json's device_days",
            ))  # fmt: skip
