"""Provinces and platforms as the API and the pages both show them: roll-ups by review.

Every id is resolved with :mod:`collector.web.scope` first, which answers 404 for what the
caller may not see.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.web import scope
from collector.web.principal import Principal
from collector.web.schemas import (
    EnterpriseSummaryOut,
    PlatformSummaryOut,
    ProvinceDetailOut,
    RollupOut,
)
from collector.web.services.summaries import enterprise_summary, platform_rollup, platform_summary
from collector.web.state import WebState

__all__ = ["PlatformView", "platform_view", "province_detail"]


@dataclass(frozen=True, slots=True)
class PlatformView:
    """A platform's summary, its roll-up and one line per enterprise."""

    summary: PlatformSummaryOut
    rollup: RollupOut
    lines: list[EnterpriseSummaryOut]


def province_detail(state: WebState, user: Principal, code: str) -> ProvinceDetailOut:
    """The province overview: each platform's passes against the minimum of 10, subsidy."""
    directory = state.directory()
    ref = scope.province_in_scope(user, directory, code)
    decisions = state.registry.latest_decisions()
    summaries = [
        platform_summary(p, platform_rollup(p, state.bundles, decisions))
        for p in directory.platforms_of(code)
    ]
    return ProvinceDetailOut(
        code=ref.code,
        name=ref.name,
        plan_keys=list(ref.plan_keys),
        platforms=summaries,
        enterprises=sum(s.enterprises for s in summaries),
        reviewed_passed=sum(s.reviewed_passed for s in summaries),
        subsidy_fen=sum(s.subsidy_fen for s in summaries),
    )


def platform_view(state: WebState, user: Principal, platform_id: str) -> PlatformView:
    """The platform's enterprises with verdict, flags, coverage and the decision in force."""
    directory = state.directory()
    ref = scope.platform_in_scope(user, directory, platform_id)
    decisions = state.registry.latest_decisions()
    rollup = platform_rollup(ref, state.bundles, decisions)
    lines = [
        enterprise_summary(e, state.bundles.latest(e.id), decisions.get((ref.id, e.id)))
        for e in directory.enterprises_of(ref.id)
    ]
    return PlatformView(platform_summary(ref, rollup), rollup, lines)
