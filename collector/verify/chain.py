"""The seal chains: per (agent, device), every seal in issue order, none missing, none doubled.

An agent numbers each seal of a device (any day, any version) ``index`` 1, 2, ... and puts the
previous seal's hash in ``prev`` (docs/wire-contract.md, "Day seal"); a re-seal of a day names
the version it replaces in ``supersedes``. A bundle carries, per (agent, device), the segment
from the last seal before the baseline's start (or index 1) to the newest seal the collector
held (docs/evidence-bundle.md). So a seal removed, replaced or replayed inside the segment
breaks the chain, and so does a newer version withheld to keep an older one. What no chain can
show: seals after the newest in the bundle (the tail); each chain's end is printed instead.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from collector.proof import BundleDaySeal
from collector.verify.findings import Finding, FindingCode, Report

__all__ = ["check_chains"]

_Chain = list[BundleDaySeal]


def _finding(
    enterprise: str, line: BundleDaySeal, code: FindingCode, field: str, **values: object
) -> Finding:
    seal = line.seal
    return Finding(
        code=code,
        enterprise=enterprise,
        agent=seal.agent,
        device=seal.device,
        day=seal.day.isoformat(),
        field=field,
        bundle_value=values.get("found"),
        expected_value=values.get("expected"),
        detail=str(values.get("detail", "")),
        bundle_label="seal",
        expected_label="chain",
    )


def _chains(seals: Iterable[BundleDaySeal]) -> dict[tuple[str, str], _Chain]:
    chains: dict[tuple[str, str], _Chain] = defaultdict(list)
    for line in seals:
        chains[(line.seal.agent, line.seal.device)].append(line)
    for chain in chains.values():
        chain.sort(key=lambda line: (line.seal.index, line.sha256))
    return chains


def _check_start(enterprise: str, chain: _Chain, baseline_start: date, report: Report) -> None:
    first = chain[0]
    if first.seal.index != 1 and first.seal.day >= baseline_start:
        report.add(
            _finding(enterprise, first, "chain_start_late", "index", found=first.seal.index,
                     expected=1, detail=(
                f"the chain starts at index {first.seal.index} ({first.seal.day}), on or after "
                f"the baseline's start {baseline_start}: the seals before it are not in the "
                "bundle"
            ))
        )  # fmt: skip


def _check_links(enterprise: str, chain: _Chain, report: Report) -> None:
    for before, after in itertools.pairwise(chain):
        b, a = before.seal, after.seal
        if a.index == b.index:
            report.add(_finding(enterprise, after, "chain_broken", "index", found=a.index,
                                expected=b.index + 1, detail=(
                f"two seals hold index {a.index}: day {b.day} ({before.sha256[:12]}…) and day "
                f"{a.day} ({after.sha256[:12]}…)"
            )))  # fmt: skip
        elif a.index != b.index + 1:
            missing = f"{b.index + 1}" if a.index == b.index + 2 else f"{b.index + 1}–{a.index - 1}"
            report.add(_finding(enterprise, after, "chain_broken", "index", found=a.index,
                                expected=b.index + 1, detail=(
                f"index {missing} missing between day {b.day} (index {b.index}) and day "
                f"{a.day} (index {a.index})"
            )))  # fmt: skip
        elif a.prev != before.sha256:
            report.add(_finding(enterprise, after, "chain_broken", "prev", found=a.prev,
                                expected=before.sha256, detail=(
                f"index {a.index} does not follow index {b.index} (day {b.day})"
            )))  # fmt: skip


def _check_versions(enterprise: str, chain: _Chain, baseline_start: date, report: Report) -> None:
    by_day: dict[date, list[BundleDaySeal]] = defaultdict(list)
    for line in chain:
        by_day[line.seal.day].append(line)
    for day, versions in sorted(by_day.items()):
        versions.sort(key=lambda line: (line.seal.version, line.sha256))
        previous: BundleDaySeal | None = None
        for line in versions:
            seal = line.seal
            if previous is None:
                if seal.version != 1 and day >= baseline_start and chain[0].seal.index == 1:
                    report.add(_finding(enterprise, line, "version_broken", "version",
                                        found=seal.version, expected=1, detail=(
                        f"version {seal.version} of {day}, whose earlier versions are not in "
                        "the bundle"
                    )))  # fmt: skip
            elif seal.version != previous.seal.version + 1 or seal.supersedes != previous.sha256:
                report.add(_finding(enterprise, line, "version_broken", "supersedes",
                                    found=seal.supersedes, expected=previous.sha256, detail=(
                    f"version {seal.version} of {day} does not supersede version "
                    f"{previous.seal.version} ({previous.sha256[:12]}…)"
                )))  # fmt: skip
            previous = line


def check_chains(
    enterprise: str, seals: Iterable[BundleDaySeal], baseline_start: date, report: Report
) -> None:
    """Check every (agent, device) chain of ``seals``; findings and each chain's end go into
    ``report``."""
    for (agent, device), chain in sorted(_chains(seals).items()):
        _check_start(enterprise, chain, baseline_start, report)
        _check_links(enterprise, chain, report)
        _check_versions(enterprise, chain, baseline_start, report)
        last = chain[-1].seal
        report.notes.append(
            f"chain {agent}/{device}: {len(chain)} seals, index {chain[0].seal.index} to "
            f"{last.index}, ends with day {last.day} version {last.version}: days sealed after "
            "it cannot be seen in this bundle"
        )
