"""Subsidy arithmetic in integer fen: per passed enterprise and per platform (method §7).

Per passed enterprise: min(⌊30 % of the actual retrofit cost⌋, 300,000 CNY), the actual cost
being the lower of the plan's retrofit cost and the invoiced total (:func:`subsidy_cost_fen`);
per platform:
the sum, capped at 6,000,000 CNY; and whether at least 10 enterprises passed (DOMAIN.md,
工信厅联企业〔2022〕22号). 1 CNY = 100 fen; every amount is an int, rounded down to the fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collector.plan import MIN_ENTERPRISES_PER_PLATFORM

__all__ = [
    "ENTERPRISE_CAP_FEN",
    "PLATFORM_CAP_FEN",
    "SUBSIDY_PERCENT",
    "EnterpriseOutcome",
    "EnterpriseSubsidy",
    "PlatformSubsidy",
    "enterprise_subsidy",
    "fen_text",
    "platform_subsidy",
    "subsidy_cost_fen",
]

#: Share of the actual retrofit cost the subsidy may cover, in percent.
SUBSIDY_PERCENT = 30
#: At most 300,000 CNY per enterprise.
ENTERPRISE_CAP_FEN = 300_000 * 100
#: At most 6,000,000 CNY per platform.
PLATFORM_CAP_FEN = 6_000_000 * 100


def fen_text(fen: int) -> str:
    """An amount in fen as CNY with two decimals, e.g. 25500000 → ``"255000.00"``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def subsidy_cost_fen(plan_cost_fen: int, invoiced_fen: int | None) -> int:
    """The actual retrofit cost the subsidy is computed on, in fen (method §7): the lower of
    the plan's retrofit cost and the invoiced total; the plan's cost while no invoice is in
    the enterprise's file.

    The lower, because the notice pays on the *actual* cost: an invoiced total above the plan
    is spending the plan never approved, one below it is what was actually spent.
    """
    return plan_cost_fen if invoiced_fen is None else min(plan_cost_fen, invoiced_fen)


@dataclass(frozen=True, slots=True)
class EnterpriseOutcome:
    """An enterprise's review result, the plan's retrofit cost and the invoiced total, in fen."""

    enterprise: str
    passed: bool
    #: The plan's retrofit cost.
    cost_fen: int
    #: The sum of the invoices in the enterprise's file; None while it holds none.
    invoiced_fen: int | None = None


@dataclass(frozen=True, slots=True)
class EnterpriseSubsidy:
    """What the rule gives one enterprise, in fen: 0 unless it passed.

    ``cost_fen`` is the cost the share is computed on (:func:`subsidy_cost_fen`).
    """

    enterprise: str
    passed: bool
    cost_fen: int
    share_fen: int
    subsidy_fen: int
    capped: bool
    plan_cost_fen: int = 0
    invoiced_fen: int | None = None
    #: The invoiced total differs from the plan's cost.
    costs_differ: bool = False


def enterprise_subsidy(outcome: EnterpriseOutcome) -> EnterpriseSubsidy:
    """min(⌊30 × cost / 100⌋, 30,000,000) fen for a passed enterprise, else 0; the cost is
    the lower of the plan's and the invoiced total (:func:`subsidy_cost_fen`).

    ValueError for a negative cost or invoiced total.
    """
    if outcome.cost_fen < 0:
        raise ValueError(f"{outcome.enterprise}: cost {outcome.cost_fen} fen, expected >= 0")
    if outcome.invoiced_fen is not None and outcome.invoiced_fen < 0:
        raise ValueError(
            f"{outcome.enterprise}: invoiced {outcome.invoiced_fen} fen, expected >= 0"
        )
    cost = subsidy_cost_fen(outcome.cost_fen, outcome.invoiced_fen)
    share = cost * SUBSIDY_PERCENT // 100
    subsidy = min(share, ENTERPRISE_CAP_FEN) if outcome.passed else 0
    return EnterpriseSubsidy(
        enterprise=outcome.enterprise,
        passed=outcome.passed,
        cost_fen=cost,
        share_fen=share,
        subsidy_fen=subsidy,
        capped=outcome.passed and share > ENTERPRISE_CAP_FEN,
        plan_cost_fen=outcome.cost_fen,
        invoiced_fen=outcome.invoiced_fen,
        costs_differ=outcome.invoiced_fen is not None and outcome.invoiced_fen != outcome.cost_fen,
    )


@dataclass(frozen=True, slots=True)
class PlatformSubsidy:
    """A platform's roll-up: passed count, the minimum of 10, and the subsidy in fen.

    ``total_fen`` is the rule's arithmetic for the enterprises that passed; when
    ``minimum_met`` is False the reviewers decide what is paid (method §7).
    """

    platform: str
    enterprises: tuple[EnterpriseSubsidy, ...]
    passed_count: int
    minimum: int
    minimum_met: bool
    uncapped_total_fen: int
    total_fen: int
    platform_capped: bool


def platform_subsidy(platform: str, outcomes: Sequence[EnterpriseOutcome]) -> PlatformSubsidy:
    """Roll up a platform's enterprises; ValueError if an enterprise id repeats."""
    ids = [outcome.enterprise for outcome in outcomes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"platform {platform}: an enterprise is listed twice in {ids}")
    per_enterprise = tuple(enterprise_subsidy(outcome) for outcome in outcomes)
    passed = sum(1 for item in per_enterprise if item.passed)
    uncapped = sum(item.subsidy_fen for item in per_enterprise)
    return PlatformSubsidy(
        platform=platform,
        enterprises=per_enterprise,
        passed_count=passed,
        minimum=MIN_ENTERPRISES_PER_PLATFORM,
        minimum_met=passed >= MIN_ENTERPRISES_PER_PLATFORM,
        uncapped_total_fen=uncapped,
        total_fen=min(uncapped, PLATFORM_CAP_FEN),
        platform_capped=uncapped > PLATFORM_CAP_FEN,
    )
