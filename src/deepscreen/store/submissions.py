"""Hash submissions: hashes proposed for a bank, held until a reviewer approves or rejects.

Records only (no bank I/O): the service's reviewing workflow moves approved entries into the
bank. Every change is audited in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import DeepscreenError
from . import audit
from .models import SUBMISSION_STATES, HashSubmission, SubmissionState, utcnow
from .records import new_id

SUBMISSION_DECISIONS: dict[str, SubmissionState] = {"approve": "approved", "reject": "rejected"}


class SubmissionError(DeepscreenError):
    """A decision that cannot be applied to a hash submission."""


@dataclass(frozen=True)
class SubmissionPage:
    submissions: Sequence[HashSubmission]
    total: int


def add(session: Session, *, bank: str, entries: list[dict[str, Any]], reference: str | None,
        submitted_by: str, submitted_key_id: str) -> HashSubmission:
    """A pending submission of ``entries`` (``signal_type``, ``value``, ``metadata``)."""
    row = HashSubmission(id=new_id(), bank=bank, entries=entries, entry_count=len(entries),
                         reference=reference, state="pending", submitted_by=submitted_by,
                         submitted_key_id=submitted_key_id, created_at=utcnow())
    session.add(row)
    audit.record(session, submitted_by, "hashes.submit", f"hash-submission:{row.id}",
                 {"bank": bank, "entries": len(entries), "reference": reference,
                  "key_id": submitted_key_id,
                  "types": sorted({str(e["signal_type"]) for e in entries})})
    return row


def page(session: Session, *, state: str | None = "pending", bank: str | None = None,
         submitted_key_id: str | None = None, limit: int = 50, offset: int = 0) -> SubmissionPage:
    """Submissions oldest first, filtered; ``total`` counts all that match."""
    if state is not None and state not in SUBMISSION_STATES:
        raise SubmissionError(f"state {state!r} is not one of {', '.join(SUBMISSION_STATES)}")
    query = select(HashSubmission)
    if state is not None:
        query = query.where(HashSubmission.state == state)
    if bank is not None:
        query = query.where(HashSubmission.bank == bank)
    if submitted_key_id is not None:
        query = query.where(HashSubmission.submitted_key_id == submitted_key_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(HashSubmission.created_at, HashSubmission.id)
                           .limit(limit).offset(offset))
    return SubmissionPage(submissions=list(rows), total=total)


def decide(session: Session, row: HashSubmission, *, decision: str, reviewer: str,
           reviewer_key_id: str, reason: str, added: int | None = None) -> None:
    """Record a reviewer's decision; a submission is decided once."""
    check(row, decision=decision, reason=reason)
    row.state = SUBMISSION_DECISIONS[decision]
    row.decided_by, row.decided_key_id = reviewer, reviewer_key_id
    row.reason, row.added, row.decided_at = reason.strip(), added, utcnow()
    audit.record(session, reviewer, f"hashes.{decision}", f"hash-submission:{row.id}",
                 {"bank": row.bank, "entries": row.entry_count, "added": added,
                  "submitted_by": row.submitted_by, "submitted_key_id": row.submitted_key_id,
                  "reason": row.reason, "key_id": reviewer_key_id})


def check(row: HashSubmission, *, decision: str, reason: str) -> None:
    if decision not in SUBMISSION_DECISIONS:
        raise SubmissionError(f"decision {decision!r} is not one of "
                              f"{', '.join(SUBMISSION_DECISIONS)}")
    if not reason or not reason.strip():
        raise SubmissionError("a decision needs a reason")
    if row.state != "pending":
        raise SubmissionError(f"hash submission {row.id} was already {row.state}")
