"""Day seals signed as an agent would, for the collector's tests: the parts computed with
``contract.daysums`` from the windows the test published, in the order it published them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract import daysums, wire

__all__ = ["ZONE", "SealChain", "seal_parts"]

#: The example plan's enterprise zone (the plan's default).
ZONE = "Asia/Shanghai"


def seal_parts(windows: Sequence[tuple[int, wire.KpiWindow]]) -> list[wire.DaySealPart]:
    """One part per provenance from ``(seq, window)`` pairs, added in (seq, end, start) order."""
    accumulators: dict[str, daysums.DayAccumulator] = {}
    for seq, window in sorted(windows, key=lambda item: (item[0], item[1].end, item[1].start)):
        accumulators.setdefault(window.provenance, daysums.DayAccumulator()).add(window, seq)
    return [daysums.part_from(accumulators[name]) for name in sorted(accumulators)]


class SealChain:
    """One (agent, device)'s seals: each new seal takes the next index and chains to the last.

    ``version`` and ``supersedes`` follow the seals already made of the same day.
    """

    def __init__(
        self, key: Ed25519PrivateKey, platform: str, enterprise: str, agent: str, device: str
    ) -> None:
        self.key, self.platform, self.enterprise = key, platform, enterprise
        self.agent, self.device = agent, device
        self.last: str | None = None
        self.index = 0
        self._versions: dict[dt.date, tuple[int, str]] = {}

    def seal(
        self,
        day: dt.date,
        windows: Sequence[tuple[int, wire.KpiWindow]],
        *,
        seq: int,
        tz: str = ZONE,
        key: Ed25519PrivateKey | None = None,
        index: int | None = None,
    ) -> bytes:
        """The published bytes of the next seal of ``day`` (``index`` forces a chain index
        and leaves the chain as it was: for conflicts)."""
        version, supersedes = self._versions.get(day, (0, None))
        chained = index is None
        at = self.index + 1 if index is None else index
        seal = wire.seal_day_seal(
            platform=self.platform,
            enterprise=self.enterprise,
            agent=self.agent,
            seq=seq,
            sent=dt.datetime(2026, 6, 3, tzinfo=dt.UTC),
            device=self.device,
            day=day,
            tz=tz,
            version=version + 1,
            supersedes=supersedes,
            index=at,
            prev=self.last if chained else ("0" * 64 if at > 1 else None),
            dropped_windows=0,
            parts=seal_parts(windows),
            key=key or self.key,
        )
        raw = wire.encode(seal)
        if chained:
            sha = wire.day_seal_sha256(raw)
            self.index, self.last = at, sha
            self._versions[day] = (version + 1, sha)
        return raw
