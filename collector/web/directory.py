"""The loaded plans as the web app navigates them: provinces, platforms, enterprises, agents.

Built from the latest version of every plan in the registry. Platform, enterprise and agent
ids are unique across plans (the ingest and the store know them by id alone, and
:meth:`Registry.load_plan` refuses a plan that reuses another's), so each id has one plan and
one province. A registry that still holds an id two plans list (loaded before that check) is
an error, IdCollisionError, never a silent choice of one plan: choosing would hand one
province's enterprises to another's reviewers. Parsed plans are cached by (key, version): a
version never changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from collector.plan import Enterprise, Plan, Platform, SubIndustry
from collector.registry import Registry, collisions_among, registry_refusal

__all__ = ["Directory", "DirectoryCache", "EnterpriseRef", "PlatformRef", "ProvinceRef"]


@dataclass(frozen=True, slots=True)
class ProvinceRef:
    """A province and the keys of its loaded plans (one per batch)."""

    code: str
    name: str
    plan_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlatformRef:
    """A platform with the plan, province and sub-industry it belongs to."""

    plan_key: str
    plan_version: int
    batch_year: int
    province: ProvinceRef
    sub_industry: SubIndustry
    platform: Platform

    @property
    def id(self) -> str:
        """The platform id."""
        return self.platform.id


@dataclass(frozen=True, slots=True)
class EnterpriseRef:
    """An enterprise with its platform (and so its province and plan)."""

    platform: PlatformRef
    enterprise: Enterprise

    @property
    def id(self) -> str:
        """The enterprise id."""
        return self.enterprise.id

    @property
    def province_code(self) -> str:
        """The code of the province whose plan lists it."""
        return self.platform.province.code


@dataclass(frozen=True, slots=True)
class Directory:
    """Every province, platform and enterprise of the latest plans, by id."""

    provinces: dict[str, ProvinceRef] = field(default_factory=dict)
    platforms: dict[str, PlatformRef] = field(default_factory=dict)
    enterprises: dict[str, EnterpriseRef] = field(default_factory=dict)

    def platforms_of(self, province_code: str) -> list[PlatformRef]:
        """The province's platforms, by plan key then platform id."""
        found = [p for p in self.platforms.values() if p.province.code == province_code]
        return sorted(found, key=lambda p: (p.plan_key, p.id))

    def enterprises_of(self, platform_id: str) -> list[EnterpriseRef]:
        """The platform's enterprises, by id."""
        found = [e for e in self.enterprises.values() if e.platform.id == platform_id]
        return sorted(found, key=lambda e: e.id)


def _build(plans: list[tuple[str, int, Plan]], registry_path: Path | str) -> Directory:
    """The directory of these (key, version, plan); IdCollisionError if two share an id."""
    collisions = collisions_among((key, plan) for key, _, plan in plans)
    if collisions:
        raise registry_refusal(registry_path, collisions)
    codes: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for key, _, plan in plans:
        codes.setdefault(plan.province.code, []).append(key)
        names.setdefault(plan.province.code, plan.province.name)
    provinces = {
        code: ProvinceRef(code, names[code], tuple(sorted(keys))) for code, keys in codes.items()
    }
    platforms: dict[str, PlatformRef] = {}
    enterprises: dict[str, EnterpriseRef] = {}
    for key, version, plan in sorted(plans, key=lambda item: item[0]):
        industries = {s.id: s for s in plan.sub_industries}
        for platform in plan.platforms:
            ref = PlatformRef(
                key,
                version,
                plan.batch_year,
                provinces[plan.province.code],
                industries[platform.sub_industry],
                platform,
            )
            platforms[platform.id] = ref
            for enterprise in platform.enterprises:
                enterprises[enterprise.id] = EnterpriseRef(ref, enterprise)
    return Directory(provinces, platforms, enterprises)


class DirectoryCache:
    """The :class:`Directory` of a registry, rebuilt only when a plan gets a new version."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, int], Plan] = {}
        self._built: tuple[tuple[tuple[str, int], ...], Directory] | None = None

    def current(self) -> Directory:
        """The directory of the latest plan versions (two small queries when unchanged).

        Raises IdCollisionError if two of those plans list one platform, enterprise or agent
        id, and what the registry raises.
        """
        latest = tuple(
            (key, self.registry.plan_history(key)[-1].version) for key in self.registry.plan_keys()
        )
        with self._lock:
            if self._built is not None and self._built[0] == latest:
                return self._built[1]
            plans = []
            for key, version in latest:
                plan = self._plans.get((key, version))
                if plan is None:
                    plan = self.registry.plan_version(key, version).plan
                    self._plans[(key, version)] = plan
                plans.append((key, version, plan))
            directory = _build(plans, self.registry.path)
            self._built = (latest, directory)
            return directory
