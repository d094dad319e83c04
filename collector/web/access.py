"""Which role may call which endpoint: one table, checked on every request.

Every route of the app has a name, and :data:`RULES` maps each name to the roles allowed to
call it; :func:`check_rules` refuses to build an app with a route the table does not name, so a
new endpoint cannot ship without a rule (tests/collector/web/test_access.py checks every role
against every route). The role check here is the first gate; the object-level check
(:meth:`Principal.sees`) is the second, done by each handler on the object it resolves.

Routes in :data:`PUBLIC` need no login: health, the API description and the login
page itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from collector.registry import Role

__all__ = ["ALL", "PUBLIC", "READERS_OF_PROVINCES", "RULES", "check_rules", "unruled"]

ALL: frozenset[Role] = frozenset({"admin", "platform", "reviewer", "observer"})
#: Province overviews show every platform of a province: not for a platform's engineer.
READERS_OF_PROVINCES: frozenset[Role] = frozenset({"admin", "reviewer", "observer"})
_RUNNERS: frozenset[Role] = frozenset({"admin", "reviewer", "platform"})
_REVIEWERS: frozenset[Role] = frozenset({"reviewer"})
_ADMINS: frozenset[Role] = frozenset({"admin"})
#: Who attaches an enterprise's documents: its platform's engineer (and an administrator);
#: never a reviewer, who judges the file, nor an observer (docs/web.md, "Enterprise files").
_ATTACHERS: frozenset[Role] = frozenset({"admin", "platform"})

#: Routes anyone may call.
PUBLIC: frozenset[str] = frozenset(
    {
        "healthz",
        "openapi",
        "api_docs",
        "static",
        "page.login_form",
        "page.login",
        "page.login_totp",
        "page.login_change",
        "page.logout",
    }
)

#: Route name → roles that may call it. Scope is checked per object by the handlers.
RULES: dict[str, frozenset[Role]] = {
    # API
    "api.me": ALL,
    "api.provinces.list": READERS_OF_PROVINCES,
    "api.provinces.get": READERS_OF_PROVINCES,
    "api.platforms.list": ALL,
    "api.platforms.get": ALL,
    "api.platforms.rollup": ALL,
    "api.enterprises.list": ALL,
    "api.enterprises.get": ALL,
    "api.enterprises.coverage": ALL,
    "api.enterprises.kpi_series": ALL,
    "api.evidence.list": ALL,
    "api.evidence.run": _RUNNERS,
    "api.evidence.get": ALL,
    "api.evidence.files": ALL,
    "api.evidence.file": ALL,
    "api.decisions.list": ALL,
    "api.decisions.record": _REVIEWERS,
    "api.rectifications.list": ALL,
    "api.attachments.list": ALL,
    "api.attachments.add": _ATTACHERS,
    "api.attachments.withdraw": _ATTACHERS,
    "api.attachments.get": ALL,
    "api.fleet.list": ALL,
    "api.agents.get": ALL,
    "api.quarantine.list": ALL,
    "api.quarantine.get": ALL,
    "api.audit.list": ALL,
    "api.users.list": _ADMINS,
    # Downloads of the pages' tables (docs/exports.md): who may read the page may download it.
    "api.provinces.export": READERS_OF_PROVINCES,
    "api.platforms.export": ALL,
    "api.enterprises.export": ALL,
    # pages
    "page.home": ALL,
    "page.province": READERS_OF_PROVINCES,
    "page.platform": ALL,
    "page.enterprise": ALL,
    "page.bundle_file": ALL,
    "page.decide": _REVIEWERS,
    "page.run_evidence": _RUNNERS,
    "page.attach": _ATTACHERS,
    "page.withdraw_attachment": _ATTACHERS,
    "page.attachment": ALL,
    "page.fleet": ALL,
    "page.quarantine": ALL,
    "page.audit": ALL,
    # the caller's own account (password, second factor): every role
    "page.account": ALL,
    "page.account_password": ALL,
    "page.totp_start": ALL,
    "page.totp_enrol": ALL,
    "page.totp_remove": ALL,
}
# The day seals' checks (#17): who may read the enterprise page may read them.
RULES["api.enterprises.day_checks"] = RULES["page.enterprise"]


def unruled(route_names: Iterable[str]) -> list[str]:
    """Route names that are neither public nor in :data:`RULES`."""
    return sorted(name for name in route_names if name not in PUBLIC and name not in RULES)


def check_rules(route_names: Iterable[str]) -> None:
    """RuntimeError naming every route without a rule (the app is not built then)."""
    missing = unruled(route_names)
    if missing:
        raise RuntimeError(f"routes without an access rule in collector/web/access.py: {missing}")
