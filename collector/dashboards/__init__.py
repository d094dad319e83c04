"""Grafana dashboards: the feed that writes what they read, the checker, and the uploader.

The dashboard files themselves are in ``dashboards/`` at the top of the repository;
``docs/storage.md`` ("Dashboard feed") describes the measurements and ``docs/operations.md``
the commands. Import the submodules for the parts with heavy dependencies (``push`` needs
grafana-client); this package only re-exports the light ones.
"""

from collector.dashboards.errors import DashboardError, DashboardFileError, DashboardPushError
from collector.dashboards.files import DashboardFile, load_dashboard, load_dashboards

__all__ = [
    "DashboardError",
    "DashboardFile",
    "DashboardFileError",
    "DashboardPushError",
    "load_dashboard",
    "load_dashboards",
]
