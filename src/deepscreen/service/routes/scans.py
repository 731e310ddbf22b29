"""``POST /v1/scans`` (upload), ``POST /v1/scans/batch`` (several uploads queued as jobs) and
``GET /v1/scans/{id}`` (status and report)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from ...store import records as rec
from ...store.blobs import BlobError
from ...store.keys import Principal
from ...store.models import QuarantineEntry, Scan
from ..auth import Submitter, rate_limited
from ..callbacks import CallbackURLError
from ..context import Context, ServiceContext
from ..schemas import BatchOut, ScanOut
from ..screening import Submission, UploadTooLarge

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/scans", tags=["scans"])

MAX_BATCH_FILES = 100  # a bigger backfill is many requests (``deepscreen submit`` does that)


@router.post("", response_model=ScanOut, status_code=200,
             responses={202: {"model": ScanOut, "description": "Accepted as a job: poll "
                              "GET /v1/scans/{id} or wait for the webhook"},
                        413: {"description": "Upload over the size limit"}})
def submit_scan(
    file: Annotated[UploadFile, File(description="The image, video or audio to screen")],
    callback_url: Annotated[str | None, Form(
        description="POST the finished report here (signed, see docs/service.md)")] = None,
    *,
    ctx: Context,
    principal: Principal = Submitter,
) -> JSONResponse:
    """Screen one upload. Images up to the synchronous limit are answered with the report
    (200); video, audio and larger items are stored and queued (202 with the scan id).
    Items whose verdict is quarantine or block are kept for review; others are not."""
    _check_callback(callback_url, ctx)
    try:
        result = ctx.screening.submit(file.file, file.filename or "upload", file.size,
                                      submitted_by=principal.name, callback_url=callback_url,
                                      submitted_key_id=principal.key_id)
    except UploadTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    with ctx.db.session() as session:
        body = ScanOut.of(rec.stored_scan(session, result.scan_id), quarantined=result.quarantined)
    code = status.HTTP_200_OK if result.status == "done" else status.HTTP_202_ACCEPTED
    headers = {"Location": f"/v1/scans/{result.scan_id}"}
    return JSONResponse(body.model_dump(mode="json"), status_code=code, headers=headers)


@router.post("/batch", response_model=BatchOut, status_code=202,
             responses={413: {"description": "A file or the request over the size limit; "
                                   "nothing is queued"},
                        422: {"description": f"No files, more than {MAX_BATCH_FILES}, or more "
                              "than the rate-limit burst"},
                        429: {"description": "Not enough rate-limit tokens for every file"},
                        500: {"description": "A file could not be queued; the answer lists the "
                              "files queued before it (`queued`), which will be screened"},
                        503: {"description": "Storage failed; as for 500, `queued` lists the "
                              "files already queued"}})
def submit_batch(
    files: Annotated[list[UploadFile], File(
        description=f"Up to {MAX_BATCH_FILES} images, videos or audio files to screen")],
    callback_url: Annotated[str | None, Form(
        description="POST each finished report here (signed, see docs/service.md)")] = None,
    *,
    ctx: Context,
    principal: Principal = Submitter,
) -> JSONResponse:
    """Queue several uploads as jobs in one request. Every file is stored durably and gets
    its own scan (202 with the scans, in file order; poll each or wait for the webhooks).
    Each file costs one rate-limit token, so a batch is never a way around the limit."""
    if not files or len(files) > MAX_BATCH_FILES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"a batch holds 1 to {MAX_BATCH_FILES} files, not {len(files)}")
    _check_callback(callback_url, ctx)
    _check_sizes(files, ctx)
    _take_tokens(ctx, principal, extra=len(files) - 1)  # the auth dependency took the first
    results = []
    try:
        for upload in files:
            results.append(ctx.screening.submit(
                upload.file, upload.filename or "upload", upload.size,
                submitted_by=principal.name, callback_url=callback_url, as_job=True,
                submitted_key_id=principal.key_id))
    except UploadTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except Exception as exc:
        if not results:
            raise  # nothing queued: the usual answer for this error (503 for storage, 500)
        return _partly_queued(files, results, exc)
    with ctx.db.session() as session:
        scans = [ScanOut.of(rec.stored_scan(session, r.scan_id), quarantined=False) for r in results]
    body = BatchOut(scans=scans)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


def _partly_queued(files: list[UploadFile], results: list[Submission],
                   exc: Exception) -> JSONResponse:
    """The answer when file k failed after files 1..k-1 were stored and queued.

    Those earlier files will be screened (and their webhooks sent), so the client must learn
    their scan ids, or it would resend them and screen them twice.
    """
    failed = len(results) + 1
    name = files[failed - 1].filename or "upload"
    storage = isinstance(exc, BlobError)
    log.error("batch: file %d (%s) failed after %d were queued: %s", failed, name, len(results),
              exc, exc_info=not storage)
    reason = f"storage unavailable: {exc}" if storage else "internal error"
    body = {
        "detail": f"file {failed} ({name}) could not be queued ({reason}); "
                  f"{_files(1, failed - 1)} queued and will be screened, "
                  f"{_files(failed, len(files))} not",
        "queued": [{"file": position, "source_name": upload.filename or "upload", "id": r.scan_id}
                   for position, (upload, r) in enumerate(zip(files[:len(results)], results,
                                                              strict=True), start=1)],
    }
    code = status.HTTP_503_SERVICE_UNAVAILABLE if storage else status.HTTP_500_INTERNAL_SERVER_ERROR
    return JSONResponse(body, status_code=code)


def _files(first: int, last: int) -> str:
    """'file 2 was' or 'files 2-5 were', for a range of file positions."""
    return f"file {first} was" if first == last else f"files {first}-{last} were"


def _check_sizes(files: list[UploadFile], ctx: ServiceContext) -> None:
    """413 before anything is stored: a batch is accepted whole or not at all, so a client
    never has to find out which of its files were queued before one was refused."""
    for position, upload in enumerate(files, start=1):
        try:
            ctx.screening.check_size(upload.file, upload.size)
        except UploadTooLarge as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                f"file {position} ({upload.filename or 'upload'}): {exc}; "
                                "nothing was queued") from exc


def _check_callback(callback_url: str | None, ctx: ServiceContext) -> None:
    if callback_url:
        try:
            ctx.webhooks.callback_policy.check(callback_url)
        except CallbackURLError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


def _take_tokens(ctx: ServiceContext, principal: Principal, extra: int) -> None:
    limiter = ctx.rate_limits
    if extra <= 0 or not limiter.enabled:
        return
    if extra + 1 > limiter.burst:  # could never be paid, however long the client waited
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"a batch of {extra + 1} files is over the rate-limit burst of "
                            f"{limiter.burst}; send at most {limiter.burst} files per batch")
    wait_s = limiter.take(principal.key_id, cost=extra)
    if wait_s > 0:
        raise rate_limited(wait_s, f"rate limit: {extra + 1} files need as many tokens")


@router.get("/{scan_id}", response_model=ScanOut, responses={404: {"description": "No such scan"}})
def get_scan(scan_id: str, ctx: Context, principal: Principal = Submitter) -> ScanOut:
    """A scan's status (pending, done, failed), verdict and report. A submitter sees only
    the scans its own key submitted; reviewers and admins see every scan."""
    with ctx.db.session() as session:
        scan = session.get(Scan, scan_id)
        if scan is None or not (principal.can("reviewer")
                                or scan.submitted_key_id == principal.key_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scan {scan_id}")
        held = session.scalar(select(QuarantineEntry.id)
                              .where(QuarantineEntry.scan_id == scan_id)) is not None
        return ScanOut.of(scan, quarantined=held)
