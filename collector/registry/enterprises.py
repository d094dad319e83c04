"""Which loaded plan lists an enterprise: an index over the latest plan versions, kept warm.

The ingest asks for every batch's enterprises (their time zones). Another process may load a
new version at any time, so the latest version numbers are read each call (one small query);
the index is rebuilt only when they change (stored versions never change). The backend gives
the two reads; the index is the same whatever stores the versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from collector.errors import IdCollision
from collector.plan import Enterprise, Platform
from collector.registry.ownership import registry_refusal
from collector.registry.records import PlanVersion, PlanVersionInfo

__all__ = ["EnterpriseIndex", "Listing"]

#: Where a plan lists an enterprise: the plan version, the platform, the enterprise.
Listing = tuple[PlanVersionInfo, Platform, Enterprise]
_Index = dict[str, list[Listing]]


class EnterpriseIndex:
    """Enterprise id → the latest plan version listing it, rebuilt when a version is loaded.

    Safe to share between threads: the index is replaced by one assignment, so a reader sees
    the old or the new one.
    """

    def __init__(
        self,
        location: Path | str,
        latest_versions: Callable[[], Sequence[tuple[str, int]]],
        plan_version: Callable[[str, int], PlanVersion],
    ) -> None:
        self._location = location
        self._latest_versions = latest_versions
        self._plan_version = plan_version
        self._plans: dict[tuple[str, int], PlanVersion] = {}
        self._index: tuple[list[tuple[str, int]], _Index] | None = None

    def find(self, platform_id: str | None, enterprise_id: str) -> Listing | None:
        """The enterprise in the latest version of the plan that lists it, or None.

        ``platform_id`` None matches any platform. Raises IdCollisionError if two plans list
        it (a registry written before ids were checked across plans) rather than choosing one.
        """
        listed = self._current().get(enterprise_id, ())
        if len(listed) > 1:  # a plan lists an enterprise id once (plan rules): two plans do
            keys = tuple(sorted({info.plan_key for info, _, _ in listed}))
            collision = IdCollision("enterprise", enterprise_id, keys)
            raise registry_refusal(self._location, (collision,))
        for info, platform, enterprise in listed:
            if platform_id is None or platform.id == platform_id:
                return info, platform, enterprise
        return None

    def _current(self) -> _Index:
        latest = list(self._latest_versions())
        built = self._index
        if built is not None and built[0] == latest:
            return built[1]
        index: _Index = {}
        for key, version in latest:
            current = self._plans.get((key, version))
            if current is None:
                current = self._plan_version(key, version)
                self._plans[(key, version)] = current
            for platform in current.plan.platforms:
                for enterprise in platform.enterprises:
                    index.setdefault(enterprise.id, []).append((current.info, platform, enterprise))
        self._index = (latest, index)  # one assignment: a reader sees the old or the new pair
        return index
