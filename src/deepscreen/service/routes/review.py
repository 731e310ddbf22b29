"""The review queue: ``GET /v1/review`` and decisions with ``POST /v1/review/{id}``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from ...store import records as rec
from ...store.keys import Principal
from ..auth import Reviewer
from ..context import Context
from ..reviewing import NotFound
from ..schemas import DecisionIn, DecisionOut, QueueEntryOut, QueuePage

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get("", response_model=QueuePage)
def review_queue(
    ctx: Context,
    state: Literal["held", "released", "confirmed", "escalated"] | None = "held",
    action: Literal["quarantine", "block"] | None = None,
    label: Annotated[str | None, Query(max_length=200, description="e.g. bank:ncii")] = None,
    kind: Literal["image", "video", "audio", "unknown"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    principal: Principal = Reviewer,
) -> QueuePage:
    """Quarantined items, oldest first, filtered by state, verdict, label and kind."""
    with ctx.db.session() as session:
        page = rec.review_queue(session, state=state, action=action, label=label, kind=kind,
                                limit=limit, offset=offset)
        entries = [QueueEntryOut.of(entry, scan) for entry, scan in page.entries]
    return QueuePage(total=page.total, limit=limit, offset=offset, entries=entries)


@router.get("/{entry_id}", response_model=QueueEntryOut,
            responses={404: {"description": "No such quarantine entry"}})
def review_entry(entry_id: str, ctx: Context, principal: Principal = Reviewer) -> QueueEntryOut:
    """One quarantined item with its full report and past decisions (entry or scan id)."""
    with ctx.db.session() as session:
        entry = rec.find_entry(session, entry_id)
        if entry is None:
            raise NotFound(f"no quarantine entry {entry_id}")
        return QueueEntryOut.of(entry, rec.stored_scan(session, entry.scan_id), with_report=True,
                                decisions=rec.decisions_for(session, entry.id))


@router.get("/{entry_id}/media", response_class=FileResponse,
            responses={404: {"description": "No such entry, or its media was released"}})
def review_media(entry_id: str, ctx: Context, principal: Principal = Reviewer) -> FileResponse:
    """The held item's bytes, for a reviewer to look at; every view is audited."""
    held = ctx.review.held_media(principal, entry_id, via="api")
    return FileResponse(held.path, media_type=held.mime,
                        headers={"Content-Disposition": "attachment",
                                 "X-Content-Type-Options": "nosniff",
                                 # Uploaded bytes are hostile: never let a browser run them.
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})


@router.post("/{entry_id}", response_model=DecisionOut,
             responses={404: {"description": "No such quarantine entry"},
                        409: {"description": "The decision cannot be applied"}})
def decide(entry_id: str, body: DecisionIn, ctx: Context,
           principal: Principal = Reviewer) -> DecisionOut:
    """Release (the item is allowed and its media deleted), confirm (its hashes go into a
    bank, so re-uploads are caught) or escalate. The reviewer is the API key's name; the
    reason is required; everything goes to the audit log."""
    done = ctx.review.decide(principal, entry_id, body.decision, body.reason, body.bank)
    row = done.decision
    return DecisionOut(entry=QueueEntryOut.of(done.entry, done.scan), decision=row.decision,
                       reviewer=row.reviewer, reason=row.reason, bank=row.bank,
                       hashes_added=done.hashes_added, decided_at=row.decided_at)
