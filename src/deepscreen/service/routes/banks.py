"""Hash banks over HTTP (admin): create, list, add, import and export CSV, look up a hash."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, HTTPException, Query, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ...banks import Bank, NewEntry
from ...banks.csvio import read_entries, write_entries
from ...errors import BankError
from ...store import audit
from ...store.keys import Principal
from ...store.models import HashSubmission
from ..auth import Admin, Reviewer, Submitter
from ..context import Context, ServiceContext
from ..lookup import lookup_hash
from ..reviewing import ProposedHash

router = APIRouter(prefix="/v1/banks", tags=["banks"])
SignalType = Literal["sha256", "md5", "pdq", "vpdq"]


class BankIn(BaseModel):
    name: str = Field(description="1-64 lower-case letters, digits, '.', '_' or '-'")
    label: str | None = Field(None, description="Label on matches [default: bank:<name>]")
    description: str = ""
    pdq_threshold: int = Field(31, ge=0, le=128)


class BankOut(BaseModel):
    name: str
    label: str
    description: str
    pdq_threshold: int
    entry_count: int
    created_at: datetime

    @classmethod
    def of(cls, bank: Bank) -> BankOut:
        return cls(name=bank.name, label=bank.label, description=bank.description,
                   pdq_threshold=bank.pdq_threshold, entry_count=bank.entry_count,
                   created_at=bank.created_at)


class EntryIn(BaseModel):
    signal_type: SignalType
    value: str = Field(min_length=1, max_length=200_000)
    metadata: dict[str, Any] = {}


class EntriesIn(BaseModel):
    entries: list[EntryIn] = Field(min_length=1, max_length=100_000)


class Added(BaseModel):
    bank: str
    added: int


class LookupOut(BaseModel):
    signal_type: str
    value: str
    matches: list[dict[str, Any]]


def _bad(exc: BankError) -> HTTPException:
    code = status.HTTP_404_NOT_FOUND if "unknown bank" in str(exc) else \
        status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, str(exc))


@router.get("", response_model=list[BankOut])
def list_banks(ctx: Context, principal: Principal = Admin) -> list[BankOut]:
    """Every bank with its entry count."""
    return [BankOut.of(bank) for bank in ctx.banks.list_banks()]


@router.post("", response_model=BankOut, status_code=201)
def create_bank(body: BankIn, ctx: Context, principal: Principal = Admin) -> BankOut:
    """Create an empty bank."""
    try:
        bank = ctx.banks.create_bank(body.name, label=body.label, description=body.description,
                                     pdq_threshold=body.pdq_threshold)
    except BankError as exc:
        code = status.HTTP_409_CONFLICT if "already exists" in str(exc) else \
            status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, str(exc)) from exc
    _audit(ctx, principal, "bank.create", bank.name, {"label": bank.label,
                                                      "pdq_threshold": bank.pdq_threshold})
    return BankOut.of(bank)


@router.get("/lookup", response_model=LookupOut)
def lookup(ctx: Context, signal_type: Annotated[SignalType, Query(alias="type")],
           value: Annotated[str, Query(min_length=1, max_length=200_000)],
           principal: Principal = Admin) -> LookupOut:
    """Which bank entries a hash value matches (exact for SHA-256/MD5, within each bank's
    PDQ threshold, all eight rotations and flips, for PDQ; vPDQ by the video rule)."""
    try:
        matches = lookup_hash(ctx, signal_type, value)
    except BankError as exc:
        raise _bad(exc) from exc
    return LookupOut(signal_type=signal_type, value=value, matches=matches)


@router.get("/{name}", response_model=BankOut)
def get_bank(name: str, ctx: Context, principal: Principal = Admin) -> BankOut:
    try:
        return BankOut.of(ctx.banks.get_bank(name))
    except BankError as exc:
        raise _bad(exc) from exc


@router.post("/{name}/entries", response_model=Added)
def add_entries(name: str, body: EntriesIn, ctx: Context, principal: Principal = Admin) -> Added:
    """Add hash values (all or nothing: one malformed value rejects the request)."""
    entries = [NewEntry(e.signal_type, e.value, {**e.metadata, "added_by": principal.name})
               for e in body.entries]
    try:
        added = ctx.banks.add_entries(name, entries)
    except BankError as exc:
        raise _bad(exc) from exc
    _audit(ctx, principal, "bank.add", name, {"added": added})
    return Added(bank=name, added=added)


@router.post("/{name}/import", response_model=Added)
def import_csv(name: str, ctx: Context,
               file: Annotated[UploadFile, File(description="ThreatExchange-style CSV")],
               principal: Principal = Admin) -> Added:
    """Import a CSV (columns signal_type, signal_str[, metadata]; see docs/banks.md)."""
    text = io.TextIOWrapper(file.file, encoding="utf-8", errors="strict", newline="")
    try:
        added = ctx.banks.add_entries(name, read_entries(text, file.filename or "upload.csv"))
    except UnicodeDecodeError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"CSV is not UTF-8: {exc}") from exc
    except BankError as exc:
        raise _bad(exc) from exc
    _audit(ctx, principal, "bank.import", name, {"added": added, "file": file.filename})
    return Added(bank=name, added=added)


@router.get("/{name}/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
def export_csv(name: str, ctx: Context, principal: Principal = Admin) -> StreamingResponse:
    """The bank as ThreatExchange-style CSV, streamed."""
    try:
        ctx.banks.get_bank(name)
    except BankError as exc:
        raise _bad(exc) from exc
    _audit(ctx, principal, "bank.export", name, {})

    return StreamingResponse(_stream(ctx, name), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _stream(ctx: ServiceContext, name: str) -> Iterator[str]:
    buffer = io.StringIO()
    write_entries(buffer, [], collab=name)  # the header row
    yield buffer.getvalue()
    batch: list[Any] = []
    for entry in ctx.banks.entries(name):
        batch.append(entry)
        if len(batch) >= 1000:
            yield _rows_only(batch, name)
            batch = []
    if batch:
        yield _rows_only(batch, name)


def _rows_only(batch: list[Any], name: str) -> str:
    buffer = io.StringIO()
    write_entries(buffer, batch, collab=name)
    return buffer.getvalue().split("\n", 1)[1]  # drop the header write_entries always writes


def _audit(ctx: ServiceContext, principal: Principal, action: str, bank: str,
           details: dict[str, Any]) -> None:
    with ctx.db.session() as session:
        audit.record(session, principal.name, action, f"bank:{bank}",
                     {**details, "key_id": principal.key_id})


hashes_router = APIRouter(prefix="/v1/hashes", tags=["hashes"])


class HashSubmissionIn(BaseModel):
    """Hashes computed where the media is (``deepscreen hash photo.jpg --json``), no media."""

    bank: str = Field(description="The bank the hashes are proposed for, e.g. ncii")
    hashes: list[EntryIn] = Field(min_length=1, max_length=10_000)
    reference: str | None = Field(None, max_length=256,
                                  description="The submitter's own case or report id")


class HashSubmissionOut(BaseModel):
    id: str
    bank: str
    state: Literal["pending", "approved", "rejected"]
    entry_count: int
    reference: str | None
    submitted_by: str
    created_at: datetime
    decided_by: str | None
    reason: str | None
    added: int | None
    decided_at: datetime | None

    @classmethod
    def of(cls, row: HashSubmission) -> HashSubmissionOut:
        return cls(id=row.id, bank=row.bank, state=row.state,
                   entry_count=row.entry_count, reference=row.reference,
                   submitted_by=row.submitted_by, created_at=row.created_at,
                   decided_by=row.decided_by, reason=row.reason, added=row.added,
                   decided_at=row.decided_at)


class SubmissionPageOut(BaseModel):
    total: int
    submissions: list[HashSubmissionOut]


class SubmissionDecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=4000)


@hashes_router.post("", response_model=HashSubmissionOut, status_code=202,
                    responses={403: {"description": "Hash submissions are off, or not for "
                                     "this bank"}})
def submit_hashes(body: HashSubmissionIn, ctx: Context,
                  principal: Principal = Submitter) -> HashSubmissionOut:
    """Hash-only submission for victims and partners: the service never receives the media.
    The hashes wait for a reviewer (``state: pending``); once approved they go into the
    bank and matching uploads are caught from then on. Poll
    ``GET /v1/hashes/submissions/{id}`` for the decision."""
    row = ctx.hash_submissions.propose(
        principal, body.bank, [ProposedHash(h.signal_type, h.value, h.metadata)
                               for h in body.hashes], body.reference)
    return HashSubmissionOut.of(row)


@hashes_router.get("/submissions", response_model=SubmissionPageOut)
def list_submissions(
        ctx: Context, principal: Principal = Submitter,
        state: Annotated[Literal["pending", "approved", "rejected"] | None,
                         Query(description="Only submissions in this state")] = "pending",
        bank: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0) -> SubmissionPageOut:
    """Submissions oldest first: all of them for reviewers, a submitter's own otherwise."""
    found = ctx.hash_submissions.page(principal, state=state, bank=bank, limit=limit,
                                      offset=offset)
    return SubmissionPageOut(total=found.total,
                             submissions=[HashSubmissionOut.of(r) for r in found.submissions])


@hashes_router.get("/submissions/{submission_id}", response_model=HashSubmissionOut,
                   responses={404: {"description": "No such submission (or not yours)"}})
def get_submission(submission_id: str, ctx: Context,
                   principal: Principal = Submitter) -> HashSubmissionOut:
    return HashSubmissionOut.of(ctx.hash_submissions.get(principal, submission_id))


@hashes_router.post("/submissions/{submission_id}", response_model=HashSubmissionOut,
                    responses={404: {"description": "No such submission"},
                               422: {"description": "Already decided, or no reason given"}})
def decide_submission(submission_id: str, body: SubmissionDecisionIn, ctx: Context,
                      principal: Principal = Reviewer) -> HashSubmissionOut:
    """Approve (the hashes go into the bank, with who proposed and who approved them in each
    entry's metadata) or reject a pending submission, with a reason. Audited."""
    return HashSubmissionOut.of(ctx.hash_submissions.decide(principal, submission_id,
                                                            body.decision, body.reason))
