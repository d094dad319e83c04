"""``/api/v1/enterprises/{id}/evidence``: stored bundles, a run now, a bundle and its files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from collector.bundle import MANIFEST_NAME, BundleDamaged
from collector.evidence import DEFAULT_SEED
from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.problems import Problem
from collector.web.registry_wait import registry_call
from collector.web.routes.common import BundleFilePath, BundlePath, EnterprisePath, State
from collector.web.schemas import BundleFileOut, BundleOut, EvidenceOut, EvidenceRunIn
from collector.web.services import (
    attempt_out,
    bundle_file_response,
    bundle_out,
    loaded_bundle,
    media_type,
    run_and_audit,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/enterprises/{enterprise_id}/evidence",
    name="api.evidence.list",
    response_model=list[BundleOut],
    summary="An enterprise's stored evidence bundles",
)
def evidence_list(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> object:
    """Bundles, newest stored first (at most 200)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    items = []
    for info in state.bundles.bundles(ref.id)[:200]:
        try:
            loaded = state.bundles.load(ref.id, info.bundle_id)
        except BundleDamaged:
            continue
        if loaded is not None:
            items.append(bundle_out(loaded.info, loaded.document))
    return items


@router.post(
    "/enterprises/{enterprise_id}/evidence",
    name="api.evidence.run",
    status_code=201,
    response_model=BundleOut,
    summary="Run the evidence engine for an enterprise now",
)
async def evidence_run(
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    body: Annotated[EvidenceRunIn | None, Body()] = None,
) -> BundleOut:
    """Build the evidence from the data now in InfluxDB and store its bundle (idempotent:
    the same data and seed give the same bundle id). Limited per user, per enterprise and in
    all (429 with Retry-After); only an administrator may choose the seed."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    seed = None if body is None else body.seed
    if seed is not None and seed != DEFAULT_SEED and user.role != "admin":
        raise Problem(
            403,
            f"only an administrator may choose the seed; leave it out (default {DEFAULT_SEED})",
            kind="forbidden",
        )
    return await run_and_audit(state, user, ref, seed)


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}",
    name="api.evidence.get",
    response_model=EvidenceOut,
    summary="A bundle's verdicts, intervals, flags and subsidy",
)
def evidence_get(
    enterprise_id: EnterprisePath, bundle_id: BundlePath, user: CurrentUser, state: State
) -> EvidenceOut:
    """Every attempt's KPI verdicts with intervals and targets, the flags, integrity, subsidy."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    loaded = loaded_bundle(state, ref, bundle_id)
    doc = loaded.document
    return EvidenceOut(
        **bundle_out(loaded.info, doc).model_dump(),
        attempt_list=[attempt_out(a) for a in doc.attempts],
        flag_list=list(doc.flags),
        integrity=doc.integrity,
        subsidy=doc.subsidy,
        digital_level=doc.digital_level,
    )


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}/files",
    name="api.evidence.files",
    response_model=list[BundleFileOut],
    summary="A bundle's files and their SHA-256",
)
def evidence_files(
    enterprise_id: EnterprisePath, bundle_id: BundlePath, user: CurrentUser, state: State
) -> list[BundleFileOut]:
    """The manifest's files (and the manifest itself, whose SHA-256 is the bundle id)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    loaded = loaded_bundle(state, ref, bundle_id)
    base = f"/api/v1/enterprises/{ref.id}/evidence/{bundle_id}/files/"
    files = {**loaded.info.files, MANIFEST_NAME: bundle_id}
    return [
        BundleFileOut(name=n, sha256=sha, media_type=media_type(n), url=base + n)
        for n, sha in sorted(files.items())
    ]


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}/files/{name}",
    name="api.evidence.file",
    summary="One file of a bundle, checked against the manifest",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def evidence_file(
    enterprise_id: EnterprisePath,
    bundle_id: BundlePath,
    name: BundleFilePath,
    user: CurrentUser,
    state: State,
) -> Response:
    """The file's bytes; 409 if they no longer match the manifest."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return bundle_file_response(state, ref, bundle_id, name)
