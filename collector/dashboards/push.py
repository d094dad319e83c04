"""``dashboards push``: upload the dashboard files to a running Grafana with grafana-client.

grafana-client is the maintained successor of grafana_api. Each dashboard goes to
``POST /api/dashboards/db`` with ``overwrite`` (the files are the source: a change made in the
UI is replaced, as provisioning would) into one folder, created if missing. With a datasource
uid, the dashboards' ``datasource`` variable defaults to it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from collector.dashboards.errors import DashboardPushError
from collector.dashboards.files import DashboardFile

__all__ = ["DEFAULT_FOLDER_UID", "PushResult", "push_dashboards"]

log = logging.getLogger(__name__)

DEFAULT_FOLDER_UID = "retrofit-verify"
_FOLDER_TITLE = "retrofit-verify"


@dataclass(frozen=True, slots=True)
class PushResult:
    """What Grafana answered for one dashboard."""

    uid: str
    title: str
    url: str
    version: int | None


def _error(what: str, exc: GrafanaException) -> DashboardPushError:
    status = exc.status_code or None
    if status in (401, 403):
        then = "not retrying: check the token (a service account token with Editor rights)"
    elif status is None or status >= 500:
        then = "retryable: Grafana is down or failing"
    else:
        then = "not retrying: Grafana refused it"
    return DashboardPushError(
        f"Grafana {what}: {exc.message}; {then}",
        status_code=status,
        retryable=status is None or status >= 500,
    )


def _ensure_folder(api: GrafanaApi, uid: str) -> None:
    try:
        # grafana-client 5.1 leaves most element methods unannotated.
        api.folder.get_folder(uid)  # type: ignore[no-untyped-call]
        return
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise _error(f"folder {uid}", exc) from exc
    except GrafanaException as exc:
        raise _error(f"folder {uid}", exc) from exc
    try:
        api.folder.create_folder(_FOLDER_TITLE, uid=uid)  # type: ignore[no-untyped-call]
    except GrafanaException as exc:
        raise _error(f"creating folder {uid}", exc) from exc
    log.info("created Grafana folder %s", uid)


def _payload(dashboard: DashboardFile, datasource_uid: str | None) -> dict[str, Any]:
    model = copy.deepcopy(dict(dashboard.model))
    model["id"] = None  # Grafana matches by uid; an id from another instance would clash
    if datasource_uid is not None:
        for variable in model.get("templating", {}).get("list", []):
            if variable.get("type") == "datasource":
                variable["current"] = {"text": datasource_uid, "value": datasource_uid}
    return model


def push_dashboards(
    url: str,
    token: str,
    dashboards: Sequence[DashboardFile],
    *,
    folder_uid: str = DEFAULT_FOLDER_UID,
    datasource_uid: str | None = None,
    timeout_s: float = 10.0,
) -> list[PushResult]:
    """Upload ``dashboards`` to the Grafana at ``url`` with a service account ``token``.

    Raises DashboardPushError naming the folder or dashboard Grafana did not take; the ones
    before it were uploaded (pushing again is harmless: same uid, overwritten).
    """
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    _ensure_folder(api, folder_uid)
    results = []
    for dashboard in dashboards:
        body = {
            "dashboard": _payload(dashboard, datasource_uid),
            "folderUid": folder_uid,
            "overwrite": True,
            "message": f"retrofit-verify: {dashboard.path.name}",
        }
        try:
            answer = api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            raise _error(f"dashboard {dashboard.uid} ({dashboard.path.name})", exc) from exc
        answer = answer if isinstance(answer, dict) else {}
        version = answer.get("version")
        results.append(
            PushResult(
                uid=str(answer.get("uid", dashboard.uid)),
                title=dashboard.title,
                url=str(answer.get("url", "")),
                version=int(version) if isinstance(version, int) else None,
            )
        )
        log.info("pushed dashboard %s (%s)", dashboard.uid, answer.get("status", "?"))
    return results
