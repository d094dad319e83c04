"""Who is asking, and what they may see: the principal and its scope checks.

Object-level authorisation lives here, in one place: every handler that takes an id resolves
the object and asks :meth:`Principal.sees` before it answers. An object outside the caller's
scope is answered exactly like one that does not exist (404), so ids of other platforms'
enterprises cannot be discovered by probing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from collector.registry import Role, User

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user: role, scope, and how they came (token or page session)."""

    user_id: str
    display_name: str
    role: Role
    platform: str | None
    province: str | None
    token_id: str
    via: Literal["token", "session"]
    #: The session's CSRF token (page sessions only).
    csrf: str | None = None

    @classmethod
    def of(
        cls,
        user: User,
        token_id: str,
        via: Literal["token", "session"],
        csrf: str | None = None,
    ) -> Principal:
        """The principal of a registry user who came with ``token_id`` by ``via``."""
        return cls(
            user.user_id,
            user.display_name,
            user.role,
            user.platform,
            user.province,
            token_id,
            via,
            csrf,
        )

    @property
    def national(self) -> bool:
        """True for an admin and for reviewers and observers without a province."""
        return self.role == "admin" or (self.role != "platform" and self.province is None)

    def sees(self, province_code: str, platform_id: str) -> bool:
        """True if this principal may see a platform (and its enterprises and agents)."""
        if self.role == "platform":
            return platform_id == self.platform
        return self.national or province_code == self.province

    def sees_province(self, province_code: str) -> bool:
        """True if this principal may see a province's overview (every platform in it)."""
        if self.role == "platform":
            return False
        return self.national or province_code == self.province
