"""Plan files: the schema, the programme's rules, ``plan validate`` output as data."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from collector.cli.plan import EXIT_ERRORS, EXIT_OK, EXIT_UNREADABLE, validate_plan_file
from collector.plan import (
    PlanFileError,
    PlanInvalidError,
    load_plan,
    parse_plan,
    plan_changes,
    plan_content,
    stored_plan,
)
from collector.registry import Registry

CASES = Path(__file__).parent / "plan_cases"
EXAMPLE = Path(__file__).parents[2] / "deploy" / "examples" / "plan.yaml"
VALID = CASES / "valid_minimal" / "plan.yaml"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_plan_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case folder's plan.yaml gives exactly expected.err and its exit code (default 1)."""
    folder = CASES / case
    monkeypatch.chdir(folder)
    console, buffer = _console()
    code, _ = validate_plan_file(Path("plan.yaml"), console)
    expected_code = folder / "expected.code"
    wanted = int(expected_code.read_text()) if expected_code.exists() else EXIT_ERRORS
    assert buffer.getvalue() == (folder / "expected.err").read_text()
    assert code == wanted


def test_every_case_has_expected_output() -> None:
    folders = [p for p in CASES.iterdir() if p.is_dir()]
    assert len(folders) >= 25
    assert all((p / "expected.err").is_file() and (p / "plan.yaml").exists() for p in folders)


def test_every_programme_rule_is_violated_by_a_case() -> None:
    errors = "".join((p / "expected.err").read_text() for p in CASES.iterdir() if p.is_dir())
    for phrase in (
        "expected at least 10: each platform must complete",
        "expected at most 3 (programme rule)",
        "expected at most 5 per province per batch",
        "a platform applies for one sub-industry",
        "expected before go_live",
        "expected after go_live",
        "expected at least 28 days",
        "expected at least 42 days",
        "is used twice",
        "has the same public key",
        "expected each device reported by exactly one agent",
        "warning: sub-industry moulds is not in one of the notice's priority industries",
    ):
        assert phrase in errors, phrase


def test_example_plan_is_valid_without_warnings() -> None:
    console, buffer = _console()
    code, loaded = validate_plan_file(EXAMPLE, console)
    assert code == EXIT_OK, buffer.getvalue()
    assert loaded is not None and loaded.warnings == ()
    assert "10 enterprises, 10 agents" in buffer.getvalue()


def test_unreadable_files_exit_2(tmp_path: Path) -> None:
    console, buffer = _console()
    assert validate_plan_file(tmp_path / "none.yaml", console)[0] == EXIT_UNREADABLE
    assert validate_plan_file(tmp_path, console)[0] == EXIT_UNREADABLE
    assert "no such file" in buffer.getvalue()
    with pytest.raises(PlanFileError):
        load_plan(tmp_path / "none.yaml")


def test_money_is_exact_and_never_a_float() -> None:
    plan = load_plan(VALID).plan
    enterprise = plan.platforms[0].enterprises[0]
    assert enterprise.retrofit_cost_cny == Decimal("500000.00")
    assert enterprise.retrofit_cost_fen == 50_000_000
    assert '"retrofit_cost_cny":"500000.00"' in plan_content(plan)
    text = VALID.read_text().replace('retrofit_cost_cny: "500000.00"', "retrofit_cost_cny: 0.1")
    with pytest.raises(PlanInvalidError, match="money is never a float"):
        parse_plan(text, "p.yaml")


def test_digest_follows_values_not_comments() -> None:
    text = VALID.read_text()
    first = parse_plan(text, "a").digest
    assert parse_plan("# comment\n" + text, "b").digest == first
    changed = text.replace("size: 5, unit: pp", "size: 6, unit: pp")
    assert parse_plan(changed, "a").digest != first


def test_the_registry_gives_the_plan_back_as_stored_plan_targets_in_key_order(
    tmp_path: Path,
) -> None:
    # valid_minimal lists oee before energy_per_unit; the registry (and so the evidence the
    # collector computes) has them in key order, and so must a verifier recomputing from the
    # file (collector.verify.load_trust_root). The plan model sorts them as it reads the file
    # (tests/collector/plan/test_model.py), and stored_plan keeps that order.
    assert VALID.read_text().index("oee:") < VALID.read_text().index("energy_per_unit:")
    loaded = load_plan(VALID)
    (enterprise, *_) = loaded.plan.platforms[0].enterprises
    assert list(enterprise.targets) == ["energy_per_unit", "oee"]
    with Registry(tmp_path / "registry.sqlite") as registry:
        registry.load_plan(loaded, by="test")
        given_back = registry.plan_version(loaded.plan.key, None).plan
    assert given_back == stored_plan(loaded.plan)
    assert list(given_back.platforms[0].enterprises[0].targets) == ["energy_per_unit", "oee"]
    assert list(stored_plan(loaded.plan).platforms[0].enterprises[0].targets) == [
        "energy_per_unit",
        "oee",
    ]
    assert plan_content(stored_plan(loaded.plan)) == plan_content(loaded.plan)


def test_energy_boundary_is_stored_only_when_chosen() -> None:
    """Plans written before the boundary existed keep their digest; facility is a new version."""
    text = VALID.read_text()
    energy = 'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false'
    assert energy in text
    plain = parse_plan(text, "a")
    assert "boundary" not in plan_content(plain.plan)
    explicit = parse_plan(text.replace(energy, energy + ", boundary: devices"), "a")
    assert explicit.digest == plain.digest
    facility = parse_plan(
        text.replace(energy, energy + ", boundary: facility, meters: [meter-1]"), "a"
    )
    target = facility.plan.platforms[0].enterprises[0].targets["energy_per_unit"]
    assert (target.boundary, target.meters) == ("facility", ("meter-1",))
    assert facility.digest != plain.digest
    assert plan_changes(plan_content(plain.plan), plan_content(facility.plan))[0] == (
        "platforms[plat-a].enterprises[plat-a-e01].targets.energy_per_unit.boundary: "
        'added "facility"'
    )


def test_energy_drivers_are_stored_only_when_planned_hours_are_chosen() -> None:
    """Plans without ``drivers`` keep their digest; adding planned hours is a new version."""
    text = VALID.read_text()
    energy = 'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false'
    plain = parse_plan(text, "a")
    target = plain.plan.platforms[0].enterprises[0].targets["energy_per_unit"]
    assert target.drivers == ("good_count",)
    assert "drivers" not in plan_content(plain.plan)
    explicit = parse_plan(text.replace(energy, energy + ", drivers: [good_count]"), "a")
    assert explicit.digest == plain.digest
    hours = parse_plan(text.replace(energy, energy + ", drivers: [good_count, planned_h]"), "a")
    target = hours.plan.platforms[0].enterprises[0].targets["energy_per_unit"]
    assert target.drivers == ("good_count", "planned_h")
    assert hours.digest != plain.digest
    assert plan_changes(plan_content(plain.plan), plan_content(hours.plan))[0] == (
        "platforms[plat-a].enterprises[plat-a-e01].targets.energy_per_unit.drivers: "
        'added ["good_count", "planned_h"]'
    )


def test_changes_name_the_enterprise_and_key() -> None:
    text = VALID.read_text()
    old = plan_content(parse_plan(text, "a").plan)
    edited = text.replace(
        "id: plat-a-e03, name: 企业 plat-a-e03",
        "id: plat-a-e03, name: 企业 plat-a-e03, go_live: 2026-05-20",
    )
    new = plan_content(parse_plan(edited, "a").plan)
    assert plan_changes(old, new) == (
        'platforms[plat-a].enterprises[plat-a-e03].go_live: "2026-05-06" -> "2026-05-20"',
    )
    assert plan_changes(None, new) == ("(first version)",)
