"""What the API and the pages both need: read views, evidence runs, decisions, bundle files.

Routes call these and never each other (collector/web/routes/api/, collector/web/routes/pages/).
A service takes the app's :class:`~collector.web.state.WebState`, the caller and ids already
resolved by :mod:`collector.web.scope`, and returns the API's response models; what the caller
may not have it raises as :class:`~collector.web.problems.Problem`.

- :mod:`.summaries`: response bodies from the plans, the stored bundles and the decisions
- :mod:`.series`: daily KPI series and coverage from InfluxDB's daily rollups
- :mod:`.places`: a province's and a platform's roll-ups
- :mod:`.enterprises`: an enterprise's agents
- :mod:`.bundles`: a checked bundle or bundle file, or the problem
- :mod:`.evidence`: run the evidence engine through the shared queue
- :mod:`.decisions`: record a review decision
- :mod:`.fleet`: the caller's agents with state and last window
- :mod:`.influx`: the app's InfluxDB client, or 503
- :mod:`.exports`: the pages' tables as ``.xlsx`` or CSV downloads
- :mod:`.attachments`: an enterprise's file (一企一档): list, attach, download
- :mod:`.day_seals`: an enterprise's day-seal checks by plan period; agents' seals behind
"""

from collector.web.services.attachments import (
    ATTACH_PATH,
    DOWNLOAD_CSP,
    attach_document,
    attachment_out,
    attachment_response,
    enterprise_file,
    withdraw_document,
)
from collector.web.services.bundles import bundle_file_response, loaded_bundle, media_type
from collector.web.services.day_seals import (
    DaySealView,
    day_checks_of,
    day_seal_view,
    plan_days,
    seals_behind_of,
)
from collector.web.services.decisions import record_decision
from collector.web.services.enterprises import agents_of
from collector.web.services.evidence import run_and_audit
from collector.web.services.exports import (
    ExportFormat,
    enterprise_export,
    export_response,
    platform_export,
    province_export,
)
from collector.web.services.fleet import fleet, fleet_lines
from collector.web.services.influx import influx_store
from collector.web.services.places import PlatformView, platform_view, province_detail
from collector.web.services.series import MAX_SERIES_DAYS, coverage_days, kpi_points
from collector.web.services.summaries import (
    agent_out,
    attempt_out,
    audit_out,
    bundle_out,
    decision_out,
    enterprise_summary,
    platform_rollup,
    platform_summary,
    quarantine_out,
    targets_of,
)

__all__ = [
    "ATTACH_PATH",
    "DOWNLOAD_CSP",
    "MAX_SERIES_DAYS",
    "DaySealView",
    "ExportFormat",
    "PlatformView",
    "agent_out",
    "agents_of",
    "attach_document",
    "attachment_out",
    "attachment_response",
    "attempt_out",
    "audit_out",
    "bundle_file_response",
    "bundle_out",
    "coverage_days",
    "day_checks_of",
    "day_seal_view",
    "decision_out",
    "enterprise_export",
    "enterprise_file",
    "enterprise_summary",
    "export_response",
    "fleet",
    "fleet_lines",
    "influx_store",
    "kpi_points",
    "loaded_bundle",
    "media_type",
    "plan_days",
    "platform_export",
    "platform_rollup",
    "platform_summary",
    "platform_view",
    "province_detail",
    "province_export",
    "quarantine_out",
    "record_decision",
    "run_and_audit",
    "seals_behind_of",
    "targets_of",
    "withdraw_document",
]
