"""A platform's bundle: every enterprise inside verified, and the roll-up recomputed.

The plant here is all ten enterprises of valid_minimal's platform (``whole``): the roll-up
needs exactly the platform's enterprises.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from collector.verify import (
    EXIT_NOT_VERIFIED,
    EXIT_VERIFIED,
    finding_line,
    load_trust_root,
    verify_platform,
)
from collector.verify.cli import main

from .forge import (
    ALL_ENTERPRISES,
    Forge,
    edit_evidence,
    forge_plant,
    platform_remanifest,
    remanifest,
    write_platform_bundle,
)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Forge:
    return forge_plant(tmp_path_factory.mktemp("platform"), enterprises=ALL_ENTERPRISES)


@pytest.fixture
def platform(whole: Forge, tmp_path: Path) -> Path:
    return write_platform_bundle(whole, tmp_path / "plat-a")


def test_an_honest_platform_bundle_verifies(
    whole: Forge, platform: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(platform), "--plan", str(whole.plan_path)]) == EXIT_VERIFIED
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.endswith(": verified")] == [
        *(f"{enterprise}: verified" for enterprise in ALL_ENTERPRISES),
        "plat-a: verified",
    ]


def test_an_edited_roll_up_is_named_by_its_path(whole: Forge, platform: Path) -> None:
    path = platform / "platform.json"
    tree = json.loads(path.read_bytes())
    tree["passed_count"] += 1
    text = json.dumps(tree, sort_keys=True, ensure_ascii=False, indent=1)
    path.write_bytes((text + "\n").encode())
    platform_remanifest(platform, whole.collector_key)
    result = verify_platform(platform, load_trust_root(whole.plan_path))
    print("\n".join(finding_line(f) for r in result.reports for f in r.findings))
    (found,) = result.platform.findings
    assert (found.code, found.enterprise, found.field) == (
        "figure_differs",
        "plat-a",
        "passed_count",
    )
    assert found.bundle_value == found.expected_value + 1
    assert result.exit_code == EXIT_NOT_VERIFIED


def test_an_enterprise_edited_inside_its_platform_fails_both(whole: Forge, platform: Path) -> None:
    inner = platform / "plat-a-e03"
    edit_evidence(inner, lambda tree: tree["device_days"][0].update(windows=999))
    remanifest(inner, whole.collector_key)
    platform_remanifest(platform, whole.collector_key)
    result = verify_platform(platform, load_trust_root(whole.plan_path))
    (third,) = [r for r in result.enterprises if r.enterprise == "plat-a-e03"]
    assert "device_day_differs" in third.codes()
    # the roll-up quotes each enterprise's evidence hash: it no longer matches either
    assert any(f.field.endswith("evidence_sha256") for f in result.platform.findings)
    assert result.exit_code == EXIT_NOT_VERIFIED


def test_a_missing_enterprise_is_named(whole: Forge, platform: Path) -> None:
    shutil.rmtree(platform / "plat-a-e10")
    result = verify_platform(platform, load_trust_root(whole.plan_path))
    codes = result.platform.codes()
    assert "manifest_mismatch" in codes and "recompute_failed" in codes
