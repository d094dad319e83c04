"""Hostile or broken bundle files: each gives a located finding or exit 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.proof import MANIFEST_NAME
from collector.verify import EXIT_NOT_VERIFIED, BundleUnreadable, Report, verify_bundle
from collector.verify.compare import FIGURE_FIELDS
from contract import daysums

from .forge import Forge, remanifest

ENT = "plat-a-e01"


def _codes(report: Report) -> list[str]:
    assert report.exit_code == EXIT_NOT_VERIFIED
    return report.codes()


def test_every_device_day_figure_is_one_a_seal_gives() -> None:
    # sealed_row reads each document field from row_figures: a new DeviceDayDoc field without
    # a sealed figure would fail here, not in a reviewer's hands.
    assert set(FIGURE_FIELDS) <= set(daysums.FIGURES)


def test_an_evidence_file_that_is_no_document_is_named(forge: Forge, bundle: Path) -> None:
    (bundle / "evidence.json").write_bytes(b'{"format": "something else"}\n')
    remanifest(bundle, None)
    report = verify_bundle(bundle, forge.plan_path)
    assert set(_codes(report)) == {"evidence_invalid", "unsigned"}
    assert report.enterprise == ENT  # the folder's name, when the document gives none


def test_a_manifest_that_is_no_manifest_is_named(forge: Forge, bundle: Path) -> None:
    (bundle / MANIFEST_NAME).write_bytes(b"[1, 2]")
    report = verify_bundle(bundle, forge.plan_path)
    assert "manifest_invalid" in _codes(report)
    (bad,) = [f for f in report.findings if f.code == "signature_invalid"]
    assert "wrong_manifest" in bad.detail


def test_a_listed_path_outside_the_bundle_and_an_unlisted_file_are_named(
    forge: Forge, bundle: Path
) -> None:
    text = (bundle / MANIFEST_NAME).read_text(encoding="utf-8")
    (bundle / MANIFEST_NAME).write_text(
        text.replace('"path": "agent-keys.json"', '"path": "../agent-keys.json"'), "utf-8"
    )
    report = verify_bundle(bundle, forge.plan_path)
    outside = [f for f in report.findings if f.code == "manifest_mismatch"]
    assert [f.field for f in outside] == ["../agent-keys.json"]
    assert "outside the bundle" in outside[0].detail
    unlisted = [f for f in report.findings if f.code == "manifest_unlisted"]
    assert [f.field for f in unlisted] == ["agent-keys.json"]


def test_a_fifo_in_place_of_the_evidence_is_unreadable_not_a_hang(
    forge: Forge, bundle: Path
) -> None:
    (bundle / "evidence.json").unlink()
    os.mkfifo(bundle / "evidence.json")
    with pytest.raises(BundleUnreadable, match="not a regular file"):
        verify_bundle(bundle, forge.plan_path)


def test_seal_lines_out_of_order_refuse_the_seal_file(forge: Forge, bundle: Path) -> None:
    path = bundle / "day-seals.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    path.write_bytes(b"".join(lines))
    remanifest(bundle, forge.collector_key)
    report = verify_bundle(bundle, forge.plan_path)
    (invalid,) = [f for f in report.findings if f.code == "seals_invalid"]
    assert "day-seals.jsonl:2" in invalid.detail
    # without the seals every device-day is unsealed: nothing passes for sealed
    assert "device_day_unsealed" in report.codes()
