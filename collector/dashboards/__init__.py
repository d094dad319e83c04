"""Grafana dashboards: the feed that writes what they read, the checker, and the uploader.

The dashboard files themselves are in ``dashboards/`` at the top of the repository;
``docs/storage.md`` ("Dashboard feed") describes the measurements and ``docs/operations.md``
the commands. Import the submodules for the parts with heavy dependencies (``push`` needs
grafana-client); this package only re-exports the light ones. The day-seal counts
(``day_seals``) are shared with the web app's pages, so that pages and dashboards count alike.
"""

from collector.dashboards.day_seals import (
    SEAL_OVERDUE_AFTER,
    SealTally,
    seal_overdue,
    seals_behind,
    tally_checks,
)
from collector.dashboards.errors import DashboardError, DashboardFileError, DashboardPushError
from collector.dashboards.files import DashboardFile, load_dashboard, load_dashboards

__all__ = [
    "SEAL_OVERDUE_AFTER",
    "DashboardError",
    "DashboardFile",
    "DashboardFileError",
    "DashboardPushError",
    "SealTally",
    "load_dashboard",
    "load_dashboards",
    "seal_overdue",
    "seals_behind",
    "tally_checks",
]
