"""Subsidy arithmetic in integer fen (collector/evidence/subsidy.py)."""

from __future__ import annotations

import pytest

from collector.evidence import EnterpriseOutcome, enterprise_subsidy, fen_text, platform_subsidy
from collector.evidence.subsidy import subsidy_cost_fen


def test_thirty_percent_floored_to_the_fen() -> None:
    item = enterprise_subsidy(EnterpriseOutcome("e1", True, 85_000_001))  # 850,000.01 CNY
    assert item.subsidy_fen == 25_500_000  # 255,000.003 CNY rounds down to 255,000.00
    assert not item.capped
    assert fen_text(item.subsidy_fen) == "255000.00"


def test_per_enterprise_cap() -> None:
    item = enterprise_subsidy(EnterpriseOutcome("e1", True, 120_000_000))  # 1.2 M CNY
    assert item.share_fen == 36_000_000 and item.subsidy_fen == 30_000_000 and item.capped


def test_failed_enterprise_gets_nothing() -> None:
    assert enterprise_subsidy(EnterpriseOutcome("e1", False, 50_000_000)).subsidy_fen == 0
    with pytest.raises(ValueError, match="cost -1 fen"):
        enterprise_subsidy(EnterpriseOutcome("e1", True, -1))


def test_platform_cap_and_minimum_met() -> None:
    outcomes = [EnterpriseOutcome(f"e{i}", True, 150_000_000) for i in range(25)]
    rollup = platform_subsidy("plat-a", outcomes)
    assert rollup.passed_count == 25 and rollup.minimum_met
    assert rollup.uncapped_total_fen == 25 * 30_000_000
    assert rollup.total_fen == 600_000_000 and rollup.platform_capped


def test_fewer_than_ten_passed_reports_the_shortfall_not_zero() -> None:
    outcomes = [EnterpriseOutcome(f"e{i}", i < 9, 50_000_000) for i in range(12)]
    rollup = platform_subsidy("plat-a", outcomes)
    assert rollup.passed_count == 9 and rollup.minimum == 10 and not rollup.minimum_met
    assert rollup.total_fen == 9 * 15_000_000 and not rollup.platform_capped
    with pytest.raises(ValueError, match="listed twice"):
        platform_subsidy("plat-a", [outcomes[0], outcomes[0]])


def test_fen_text() -> None:
    assert fen_text(5) == "0.05"
    assert fen_text(600_000_000) == "6000000.00"


@pytest.mark.parametrize(
    ("invoiced", "cost", "differ"),
    [
        (None, 50_000_000, False),  # no invoice yet: the plan's cost
        (40_000_000, 40_000_000, True),  # invoiced below the plan: what was spent
        (60_000_000, 50_000_000, True),  # invoiced above the plan: the plan's approval caps it
        (50_000_000, 50_000_000, False),
    ],
)
def test_the_subsidy_is_on_the_lower_of_the_plan_and_the_invoices(
    invoiced: int | None, cost: int, differ: bool
) -> None:
    item = enterprise_subsidy(EnterpriseOutcome("e1", True, 50_000_000, invoiced))
    assert (item.cost_fen, item.plan_cost_fen, item.invoiced_fen) == (cost, 50_000_000, invoiced)
    assert item.costs_differ is differ
    assert item.subsidy_fen == min(cost * 30 // 100, 30_000_000)
    assert subsidy_cost_fen(50_000_000, invoiced) == cost


def test_a_negative_invoiced_total_is_refused() -> None:
    with pytest.raises(ValueError, match="invoiced -1 fen"):
        enterprise_subsidy(EnterpriseOutcome("e1", True, 100, -1))
