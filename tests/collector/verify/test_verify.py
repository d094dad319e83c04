"""The offline verifier on forged bundles: the honest one verifies, every tamper is named.

Each tamper of the plan's §4 B (docs/verify.md lists them) is done with the attacker's tools of
tests/collector/verify/forge.py on a copy of an honest bundle; each must end ``not verified``
(exit 1) with a finding naming enterprise, device, day, field and both values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.proof import BundleDaySeal, bundle_day_seal, fingerprint
from collector.verify import (
    EXIT_NOT_ANCHORED,
    EXIT_NOT_VERIFIED,
    EXIT_VERIFIED,
    BundleUnreadable,
    Finding,
    PlanUnreadable,
    Report,
    finding_line,
    verify_bundle,
)
from contract import wire

from .forge import (
    RESEAL,
    Forge,
    copy_bundle,
    edit_evidence,
    forge_plant,
    remanifest,
    resign_chains,
    resign_seal,
    rewrite_seals,
)

ENT = "plat-a-e01"
OTHER = "plat-a-e02"
AGENT = "plat-a-e01-gw"
DAY = "2026-06-15"


def _verify(forge: Forge, folder: Path, **options: Any) -> Report:
    report = verify_bundle(folder, forge.plan_path, **options)
    print("\n".join(finding_line(f) for f in [*report.findings, *report.unanchored]))
    return report


def _found(report: Report, code: str, **where: Any) -> list[Finding]:
    return [
        f
        for f in report.findings
        if f.code == code and all(getattr(f, key) == value for key, value in where.items())
    ]


def _device_day(tree: dict[str, Any], device: str, day: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = tree["device_days"]
    return next(row for row in rows if row["device"] == device and row["day"] == day)


def test_the_honest_bundle_verifies(forge: Forge, bundle: Path) -> None:
    report = _verify(forge, bundle)
    assert report.findings == [] and report.unanchored == []
    assert report.exit_code == EXIT_VERIFIED and report.verdict == "verified"
    key = fingerprint(forge.collector_key.public_key())
    assert any(key in note for note in report.notes)
    assert any("ends with day 2026-08-30" in note for note in report.notes)


def test_the_collector_key_pinned_by_fingerprint_or_key_verifies(
    forge: Forge, bundle: Path
) -> None:
    public = forge.collector_key.public_key()
    for pin in (fingerprint(public), wire.public_key_text(public)):
        assert _verify(forge, bundle, collector_key=pin).exit_code == EXIT_VERIFIED


def test_an_edited_good_count_alone_breaks_the_manifest(forge: Forge, bundle: Path) -> None:
    edit_evidence(bundle, lambda tree: _device_day(tree, "press-1", DAY).update(good_count=9999))
    report = _verify(forge, bundle)
    assert report.exit_code == EXIT_NOT_VERIFIED
    (finding,) = _found(report, "manifest_mismatch", field="evidence.json")
    assert finding.bundle_value != finding.expected_value


def test_downtime_hidden_behind_an_inferred_state_is_named_with_both_values(
    forge: Forge, bundle: Path
) -> None:
    """A platform that marks a coded device-day as inferred (inferred_planned_s = planned_s)
    would leave its down time out of unplanned downtime (#18): the seal, whose sums predate or
    carry the field, says otherwise, and the verifier names the field with both values."""

    def edit(tree: dict[str, Any]) -> None:
        row = _device_day(tree, "press-1", DAY)
        assert row["inferred_planned_s"] is None  # a state-code device: none inferred
        row["inferred_planned_s"] = row["planned_s"]

    edit_evidence(bundle, edit)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    assert report.exit_code == EXIT_NOT_VERIFIED
    (finding,) = _found(report, "device_day_differs", device="press-1", day=DAY)
    assert finding.field == "inferred_planned_s" and finding.expected_value is None
    assert finding.bundle_value is not None and finding.bundle_value > 0


def test_an_edited_good_count_remanifested_and_resigned_is_named_with_both_values(
    forge: Forge, bundle: Path
) -> None:
    honest: dict[str, Any] = {}

    def edit(tree: dict[str, Any]) -> None:
        row = _device_day(tree, "press-1", DAY)
        honest["good_count"] = row["good_count"]
        row["good_count"] += 100

    edit_evidence(bundle, edit)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    assert report.exit_code == EXIT_NOT_VERIFIED
    (finding,) = _found(report, "device_day_differs", device="press-1", day=DAY)
    assert (finding.enterprise, finding.agent, finding.field) == (ENT, AGENT, "good_count")
    assert finding.bundle_value == honest["good_count"] + 100
    assert finding.expected_value == honest["good_count"]
    line = finding_line(finding)
    assert f"{ENT} {AGENT} press-1 {DAY} good_count: evidence.json" in line
    assert "(device_day_differs)" in line
    assert not _found(report, "manifest_mismatch") and not _found(report, "signature_invalid")


def test_an_edited_interval_is_named_by_its_path(forge: Forge, bundle: Path) -> None:
    def edit(tree: dict[str, Any]) -> None:
        oee = next(k for k in tree["attempts"][0]["kpis"] if k["kpi"] == "oee")
        oee["interval"]["low"] += 1.0

    edit_evidence(bundle, edit)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (finding,) = _found(report, "figure_differs", field="attempts[0].kpis[oee].interval.low")
    assert finding.bundle_value == pytest.approx(finding.expected_value + 1.0)
    assert report.exit_code == EXIT_NOT_VERIFIED


def test_a_dropped_device_day_is_missing_and_the_recompute_differs(
    forge: Forge, bundle: Path
) -> None:
    def drop(tree: dict[str, Any]) -> None:
        tree["device_days"].remove(_device_day(tree, "press-1", DAY))

    edit_evidence(bundle, drop)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (missing,) = _found(report, "sealed_day_missing", device="press-1", day=DAY)
    assert missing.field == "provenance measured" and missing.agent == AGENT
    assert _found(report, "figure_differs")


def test_a_dropped_device_day_and_its_seal_break_the_chain(forge: Forge, bundle: Path) -> None:
    edit_evidence(bundle, lambda tree: tree["device_days"].remove(
        _device_day(tree, "press-1", DAY)))  # fmt: skip
    dropped: list[BundleDaySeal] = []

    def drop(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        kept = []
        for line in lines:
            if line.seal.device == "press-1" and line.seal.day.isoformat() == DAY:
                dropped.append(line)
            else:
                kept.append(line)
        return kept

    rewrite_seals(bundle, drop)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (gone,) = dropped
    (broken,) = _found(report, "chain_broken", device="press-1")
    assert broken.field == "index" and broken.expected_value == gone.seal.index
    assert f"index {gone.seal.index} missing between day 2026-06-14" in broken.detail
    assert "and day 2026-06-16" in broken.detail
    assert report.exit_code == EXIT_NOT_VERIFIED


def test_an_added_device_day_without_a_seal_is_named(forge: Forge, bundle: Path) -> None:
    def add(tree: dict[str, Any]) -> None:
        row = dict(_device_day(tree, "press-1", DAY), provenance="imported")
        tree["device_days"].append(row)

    edit_evidence(bundle, add)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (unsealed,) = _found(report, "device_day_unsealed", device="press-1", day=DAY)
    assert unsealed.field == "provenance imported" and unsealed.agent == AGENT


def test_swapped_enterprise_seals_are_named_per_seal(forge: Forge, bundle: Path) -> None:
    theirs = [bundle_day_seal(raw) for raw in forge.seals[OTHER]]
    june = {line.seal.day for line in theirs if line.seal.day.month == 6}

    def swap(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        kept = [line for line in lines if line.seal.day not in june]
        return kept + [line for line in theirs if line.seal.day in june]

    rewrite_seals(bundle, swap)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    wrong = _found(report, "seal_wrong_enterprise")
    assert len(wrong) == 2 * len(june)
    assert all(f.bundle_value == OTHER and f.expected_value == ENT for f in wrong)
    assert _found(report, "device_day_unsealed", device="press-1", day=DAY)


def test_a_seal_signed_with_another_agents_key_is_refused(forge: Forge, bundle: Path) -> None:
    other_key = forge.agent_keys[forge.agents[OTHER]]

    def replace(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        return [
            bundle_day_seal(resign_seal(line.seal, other_key))
            if line.seal.device == "press-1" and line.seal.day.isoformat() == DAY
            else line
            for line in lines
        ]

    rewrite_seals(bundle, replace)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (bad,) = _found(report, "seal_bad_signature")
    assert (bad.agent, bad.device, bad.day, bad.field) == (AGENT, "press-1", DAY, "sig")
    assert report.exit_code == EXIT_NOT_VERIFIED


def _seal_of(lines: list[BundleDaySeal], device: str, day: str) -> BundleDaySeal:
    return next(x for x in lines if x.seal.device == device and x.seal.day.isoformat() == day)


def test_last_months_seal_with_todays_date_does_not_verify(forge: Forge, bundle: Path) -> None:
    def replay(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        old = _seal_of(lines, "press-1", "2026-05-15")
        today = _seal_of(lines, "press-1", DAY)
        edited = old.seal.model_copy(update={"day": today.seal.day})
        return [bundle_day_seal(wire.encode(edited)) if x is today else x for x in lines]

    rewrite_seals(bundle, replay)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    assert _found(report, "seal_bad_signature", device="press-1", day=DAY)
    assert report.exit_code == EXIT_NOT_VERIFIED


def test_last_months_seal_in_todays_place_leaves_today_unsealed(forge: Forge, bundle: Path) -> None:
    def replay(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        today = _seal_of(lines, "press-1", DAY)
        old = _seal_of(lines, "press-1", "2026-05-15")
        # last month's seal, unchanged, where today's was: its bytes again under today's place
        return [x for x in lines if x is not today] + [old]

    rewrite_seals(bundle, replay)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    assert _found(report, "device_day_unsealed", device="press-1", day=DAY)
    assert _found(report, "chain_broken", device="press-1", field="index")


def test_a_replaced_agent_key_and_a_new_collector_key_are_both_caught(
    forge: Forge, bundle: Path
) -> None:
    new_agent, new_collector = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    new_text = wire.public_key_text(new_agent.public_key())
    keys_path = bundle / "agent-keys.json"
    old_text = wire.public_key_text(forge.agent_keys[AGENT].public_key())
    keys_path.write_bytes(keys_path.read_bytes().replace(old_text.encode(), new_text.encode()))
    rewrite_seals(bundle, lambda lines: resign_chains(lines, new_agent))
    remanifest(bundle, new_collector)
    report = _verify(forge, bundle)
    bad = _found(report, "seal_bad_signature")
    assert len(bad) == len(forge.seals[ENT])
    assert all(new_text in f.detail for f in bad)
    assert not _found(report, "chain_broken")
    new_print = fingerprint(new_collector.public_key())
    assert any(new_print in note for note in report.notes)
    pinned = _verify(forge, bundle, collector_key=fingerprint(forge.collector_key.public_key()))
    (mismatch,) = _found(pinned, "collector_key_mismatch")
    assert new_print in str(mismatch.bundle_value)


def test_an_unsigned_bundle_is_not_verified(forge: Forge, bundle: Path) -> None:
    remanifest(bundle, None)
    report = _verify(forge, bundle)
    assert report.codes() == ["unsigned"] and report.exit_code == EXIT_NOT_VERIFIED


def test_a_seal_line_that_is_not_its_bytes_refuses_the_seal_file(
    forge: Forge, bundle: Path
) -> None:
    path = bundle / "day-seals.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b'"sha256":"', b'"sha256":"0', 1)[:-2] + b'"}'
    path.write_bytes(b"\n".join(lines))
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (invalid,) = _found(report, "seals_invalid")
    assert "day-seals.jsonl:4" in invalid.detail
    assert report.exit_code == EXIT_NOT_VERIFIED


def test_an_agent_the_plan_does_not_list_is_not_anchored(tmp_path: Path) -> None:
    forged = forge_plant(tmp_path / "unlisted", unlisted=[ENT])
    report = _verify(forged, forged.bundle(ENT))
    assert report.findings == []
    assert report.exit_code == EXIT_NOT_ANCHORED and report.verdict == "not anchored"
    assert {(f.agent, f.code) for f in report.unanchored} == {(AGENT, "not_anchored")}


@pytest.fixture
def unreadable(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "nothing-here"


def test_a_missing_folder_or_one_without_manifest_is_unreadable(
    forge: Forge, tmp_path: Path, unreadable: Path
) -> None:
    with pytest.raises(BundleUnreadable, match="no such folder"):
        verify_bundle(unreadable, forge.plan_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleUnreadable, match=r"no manifest\.json"):
        verify_bundle(tmp_path / "empty", forge.plan_path)


def test_a_missing_or_invalid_plan_is_unreadable(
    forge: Forge, bundle: Path, tmp_path: Path
) -> None:
    with pytest.raises(PlanUnreadable):
        verify_bundle(bundle, tmp_path / "no-plan.yaml")
    broken = tmp_path / "plan.yaml"
    broken.write_text("province: {code: 12}\n", encoding="utf-8")
    with pytest.raises(PlanUnreadable, match=r"plan\.yaml"):
        verify_bundle(bundle, broken)


@pytest.fixture(scope="module")
def resealed(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    return forge_plant(tmp_path_factory.mktemp("resealed"), reseal=True)


def test_a_day_sealed_twice_verifies_on_its_latest_version(resealed: Forge) -> None:
    bundle = resealed.bundle(ENT)
    report = _verify(resealed, bundle)
    assert report.exit_code == EXIT_VERIFIED
    tree = json.loads((bundle / "evidence.json").read_bytes())
    day = RESEAL[1].isoformat()
    kinds = sorted(r["provenance"] for r in tree["device_days"]
                   if r["device"] == "press-1" and r["day"] == day)  # fmt: skip
    assert kinds == ["imported", "measured"]


def test_a_withheld_version_2_breaks_the_chain(resealed: Forge, tmp_path: Path) -> None:
    bundle = copy_bundle(resealed, ENT, tmp_path / ENT)
    day = RESEAL[1].isoformat()
    rewrite_seals(bundle, lambda lines: [x for x in lines if x.seal.version == 1])
    edit_evidence(bundle, lambda tree: tree.update(device_days=[
        r for r in tree["device_days"] if not (r["day"] == day and r["provenance"] == "imported")
    ]))  # fmt: skip
    remanifest(bundle, resealed.collector_key)
    report = _verify(resealed, bundle)
    (broken,) = _found(report, "chain_broken", device="press-1")
    assert broken.day == (RESEAL[0] + timedelta(days=1)).isoformat()
    assert report.exit_code == EXIT_NOT_VERIFIED


def test_a_version_2_that_supersedes_nothing_is_named(resealed: Forge, tmp_path: Path) -> None:
    bundle = copy_bundle(resealed, ENT, tmp_path / ENT)
    key = resealed.agent_keys[AGENT]

    def unlink(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        out = []
        for line in lines:
            if line.seal.version == 2:
                line = bundle_day_seal(resign_seal(line.seal, key, supersedes="0" * 64))
            out.append(line)
        return out

    rewrite_seals(bundle, unlink)
    remanifest(bundle, resealed.collector_key)
    report = _verify(resealed, bundle)
    (broken,) = _found(report, "version_broken", device="press-1", day=RESEAL[1].isoformat())
    assert broken.bundle_value == "0" * 64 and broken.field == "supersedes"


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"device": "press-9"}, "seal_unknown_device", "device"),
        ({"tz": "Europe/Berlin"}, "seal_wrong_zone", "tz"),
        ({"platform": "plat-b"}, "seal_wrong_platform", "platform"),
    ],
)
def test_a_seal_outside_what_the_plan_gives_its_agent_is_named(
    forge: Forge, bundle: Path, changes: dict[str, str], code: str, field: str
) -> None:
    key = forge.agent_keys[AGENT]

    def change(lines: list[BundleDaySeal]) -> list[BundleDaySeal]:
        today = _seal_of(lines, "meter-1", DAY)
        return [bundle_day_seal(resign_seal(x.seal, key, **changes)) if x is today else x
                for x in lines]  # fmt: skip

    rewrite_seals(bundle, change)
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    (found,) = _found(report, code, day=DAY)
    assert found.field == field and found.bundle_value == next(iter(changes.values()))
    assert report.exit_code == EXIT_NOT_VERIFIED


def _nudge_interval(
    tree: dict[str, Any], relative: float, software: dict[str, str] | None = None
) -> None:
    tree["software"].update(software or {})
    oee = next(k for k in tree["attempts"][0]["kpis"] if k["kpi"] == "oee")
    oee["interval"]["low"] *= 1 + relative


def test_other_library_versions_allow_rel_1e_9_and_no_more(forge: Forge, tmp_path: Path) -> None:
    """A laptop's numpy may move the last bits of a figure (docs/verify.md, "Conventions")."""
    other = {"numpy": "1.0.0-laptop"}
    within = copy_bundle(forge, ENT, tmp_path / "within")
    edit_evidence(within, lambda tree: _nudge_interval(tree, 1e-12, other))
    remanifest(within, forge.collector_key)
    report = _verify(forge, within)
    assert report.exit_code == EXIT_VERIFIED
    assert any("numbers within rel 1e-09" in note for note in report.notes)
    beyond = copy_bundle(forge, ENT, tmp_path / "beyond")
    edit_evidence(beyond, lambda tree: _nudge_interval(tree, 1e-6, other))
    remanifest(beyond, forge.collector_key)
    assert _found(_verify(forge, beyond), "figure_differs",
                  field="attempts[0].kpis[oee].interval.low")  # fmt: skip


def test_same_library_versions_allow_no_difference_at_all(forge: Forge, bundle: Path) -> None:
    edit_evidence(bundle, lambda tree: _nudge_interval(tree, 1e-12))
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    assert [f.field for f in report.findings] == ["attempts[0].kpis[oee].interval.low"]


@pytest.mark.parametrize(("dropped", "late"), [(2, False), (3, True)])
def test_a_chain_may_start_before_the_baseline_and_not_after(
    forge: Forge, bundle: Path, dropped: int, late: bool
) -> None:
    """The forge seals from 3 days before the baseline's first day (2026-02-02): a segment
    starting on 2026-02-01 is a bundle's legitimate start, one starting on 2026-02-02 hides."""
    rewrite_seals(bundle, lambda lines: [
        x for x in lines if not (x.seal.device == "press-1" and x.seal.index <= dropped)
    ])  # fmt: skip
    remanifest(bundle, forge.collector_key)
    report = _verify(forge, bundle)
    found = _found(report, "chain_start_late", device="press-1")
    if late:
        assert [(f.day, f.bundle_value) for f in found] == [("2026-02-02", 4)]
    else:
        assert report.exit_code == EXIT_VERIFIED
