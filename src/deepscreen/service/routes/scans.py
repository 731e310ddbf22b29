"""``POST /v1/scans`` (upload) and ``GET /v1/scans/{id}`` (status and report)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from ...store.keys import Principal
from ...store.models import QuarantineEntry, Scan
from ..auth import Submitter
from ..context import ServiceContext, get_context
from ..schemas import ScanOut
from ..screening import UploadTooLarge
from ..webhooks import CallbackURLError, check_callback_url

router = APIRouter(prefix="/v1/scans", tags=["scans"])


@router.post("", response_model=ScanOut, status_code=200,
             responses={202: {"model": ScanOut, "description": "Accepted as a job: poll "
                              "GET /v1/scans/{id} or wait for the webhook"},
                        413: {"description": "Upload over the size limit"}})
def submit_scan(
    file: Annotated[UploadFile, File(description="The image, video or audio to screen")],
    callback_url: Annotated[str | None, Form(
        description="POST the finished report here (signed, see docs/service.md)")] = None,
    principal: Principal = Submitter,
    ctx: ServiceContext = Depends(get_context),  # noqa: B008
) -> JSONResponse:
    """Screen one upload. Images up to the synchronous limit are answered with the report
    (200); video, audio and larger items are stored and queued (202 with the scan id).
    Items whose verdict is quarantine or block are kept for review; others are not."""
    if callback_url:
        try:
            check_callback_url(callback_url, ctx.settings.callback_hosts)
        except CallbackURLError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    try:
        result = ctx.screening.submit(file.file, file.filename or "upload", file.size,
                                      submitted_by=principal.name, callback_url=callback_url)
    except UploadTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    with ctx.db.session() as session:
        scan = session.get(Scan, result.scan_id)
        body = ScanOut.of(scan, quarantined=result.quarantined)
    code = status.HTTP_200_OK if result.status == "done" else status.HTTP_202_ACCEPTED
    headers = {"Location": f"/v1/scans/{result.scan_id}"}
    return JSONResponse(body.model_dump(mode="json"), status_code=code, headers=headers)


@router.get("/{scan_id}", response_model=ScanOut, responses={404: {"description": "No such scan"}})
def get_scan(scan_id: str, principal: Principal = Submitter,
             ctx: ServiceContext = Depends(get_context)) -> ScanOut:  # noqa: B008
    """A scan's status (pending, done, failed), verdict and report."""
    with ctx.db.session() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scan {scan_id}")
        held = session.scalar(select(QuarantineEntry.id)
                              .where(QuarantineEntry.scan_id == scan_id)) is not None
        return ScanOut.of(scan, quarantined=held)
