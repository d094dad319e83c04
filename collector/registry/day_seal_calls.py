"""The registry calls about day seals: keep a received seal, read seals and chains, record
and read the checks of daily rows against them.

:class:`DaySealCalls` is a base of :class:`~collector.registry.Registry`: one-line delegates
to its ``day_seals`` repository (:mod:`collector.registry.sql.day_seals`), kept apart so each
file stays readable. The ingest keeps seals and checks rows after each rollup refresh; the
evidence gather reads the latest seals and chain segments and records its own checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from collector.registry.day_seals import DayCheck, DaySealEntry, SealStored
from collector.registry.ports import Repositories
from contract import wire

__all__ = ["DaySealCalls"]


class DaySealCalls:
    """Day seals and their checks, over ``repositories``."""

    repositories: Repositories

    def add_day_seal(
        self, seal: wire.DaySeal, raw: bytes, *, received_at: dt.datetime
    ) -> SealStored:
        """Keep a verified day seal (``raw``: the bytes it was decoded from) and mark its day
        dirty for a rollup refresh, in one transaction.

        ``new``; ``duplicate`` (same hash held: nothing written, the day marked again);
        ``conflict`` (another seal holds its agent, device and chain index: nothing written,
        ``held_sha256`` names that seal). The caller has checked identity, signature and zone.
        """
        return self.repositories.day_seals.add(seal, raw, received_at=received_at)

    def day_seal(self, seal_sha256: str) -> DaySealEntry | None:
        """The seal with this hash (SHA-256 hex of its bytes), or None."""
        return self.repositories.day_seals.get(seal_sha256)

    def day_seals_of_days(self, days: Iterable[tuple[str, str, dt.date]]) -> list[DaySealEntry]:
        """Every seal, every version, of these (enterprise, device, local day), by (agent,
        device, day, version, chain index)."""
        return self.repositories.day_seals.of_days(days)

    def latest_day_seals(
        self, enterprise: str, start_day: dt.date, end_day: dt.date
    ) -> list[DaySealEntry]:
        """The latest version of each (agent, device, day) of an enterprise in
        ``start_day..end_day`` (inclusive), by (agent, device, day)."""
        return self.repositories.day_seals.latest(enterprise, start_day, end_day)

    def day_seal_chain(
        self, agent_id: str, device: str, *, first_index: int = 1, last_index: int | None = None
    ) -> list[DaySealEntry]:
        """One (agent, device)'s seals with ``first_index <= chain_index <= last_index`` (None:
        to the newest), in chain order; a missing index is absent, not an error."""
        return self.repositories.day_seals.chain(
            agent_id, device, first_index=first_index, last_index=last_index
        )

    def day_seal_segment(
        self, agent_id: str, device: str, since_day: dt.date
    ) -> list[DaySealEntry]:
        """The chain segment a bundle whose evidence starts on ``since_day`` carries: from the
        last seal of an earlier day (or index 1) to the newest, every version, chain order."""
        return self.repositories.day_seals.segment(agent_id, device, since_day)

    def put_day_checks(self, checks: Sequence[DayCheck]) -> None:
        """Record each daily row's outcome, replacing an earlier one of the same row; a
        sums-only check (``root_checked`` False: an evidence gather's) of the same seal keeps
        the raw-window differences (``merkle_root``, ``seq_first``, ``seq_last``) a full check
        found, so the outcome stays ``sealed_different`` if either check differs.

        Raises ValueError for an unknown outcome or checker, or an outcome other than
        ``unsealed`` without its seal (and ``unsealed`` with one).
        """
        self.repositories.day_seals.put_checks(checks)

    def day_checks(
        self, enterprise: str, start_day: dt.date, end_day: dt.date, *, outcome: str | None = None
    ) -> list[DayCheck]:
        """An enterprise's row outcomes, days ``start_day..end_day`` inclusive (one outcome if
        given), by (day, device, agent, provenance)."""
        return self.repositories.day_seals.checks(enterprise, start_day, end_day, outcome=outcome)
