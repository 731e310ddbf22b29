"""Scan, quarantine and review records: the database side of screening, no I/O beyond SQL.

Every function works inside the caller's session, so a state change and the audit event
that describes it commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from ..errors import DeepscreenError
from ..report import Report
from . import audit
from .models import (
    DECISIONS,
    QUARANTINE_STATES,
    QuarantineEntry,
    QuarantineState,
    ReviewDecision,
    Scan,
    utcnow,
)

HELD_ACTIONS = ("quarantine", "block")  # verdicts whose items are kept for a person
# Where each decision moves an entry. Released items leave quarantine and lose their blob.
NEXT_STATE: dict[str, QuarantineState] = {"release": "released", "confirm": "confirmed",
                                           "escalate": "escalated"}
# A confirmed or escalated item keeps its blob (evidence); only release frees it.
BLOB_KEEPING_STATES = ("held", "confirmed", "escalated")


class ReviewError(DeepscreenError):
    """A review decision that cannot be applied (unknown decision, already released)."""


def new_id() -> str:
    return uuid.uuid4().hex


def encode_labels(labels: Iterable[str]) -> str:
    """``",a,b,"``: one LIKE ``%,a,%`` finds a label on SQLite and PostgreSQL alike."""
    unique = list(dict.fromkeys(label for label in labels if label))
    return f",{','.join(unique)}," if unique else ""


def decode_labels(encoded: str) -> list[str]:
    return [label for label in encoded.split(",") if label]


def add_scan(session: Session, *, sha256: str, md5: str | None, source_name: str, kind: str,
             size: int, status: str, submitted_by: str | None, blob_key: str | None = None,
             callback_url: str | None = None, scan_id: str | None = None,
             submitted_key_id: str | None = None) -> Scan:
    """A new scan row (pending: its blob must already be durable in the blob store)."""
    now = utcnow()
    scan = Scan(id=scan_id or new_id(), sha256=sha256, md5=md5, source_name=source_name[:512],
                kind=kind, size=size, status=status, labels="", blob_key=blob_key,
                callback_url=callback_url, submitted_by=submitted_by,
                submitted_key_id=submitted_key_id, attempts=0,
                created_at=now, updated_at=now)
    session.add(scan)
    session.flush()  # no ORM relationship orders the inserts, so rows that refer to it wait
    audit.record(session, submitted_by or "anonymous", "scan.submit", f"scan:{scan.id}",
                 {"sha256": sha256, "kind": kind, "size": size, "source": scan.source_name,
                  "status": status})
    return scan


def complete_scan(session: Session, scan: Scan, report: Report) -> QuarantineEntry | None:
    """Record a finished report; hold the item in quarantine when its verdict says so.

    Returns the new quarantine entry, or ``None`` when the item is not kept (then the
    scan's ``blob_key`` is cleared and the caller may delete the blob if nothing else
    references it, see :func:`blob_in_use`).
    """
    verdict = report.action
    scan.status = "done"
    scan.verdict = verdict
    scan.labels = encode_labels(report.labels)
    scan.report = report.to_document()
    scan.error = None
    audit.record(session, "service", "scan.complete", f"scan:{scan.id}",
                 {"verdict": verdict, "labels": report.labels})
    if verdict in HELD_ACTIONS:
        if scan.blob_key is None:
            raise DeepscreenError(f"scan {scan.id}: a held item needs its blob stored first")
        return hold(session, scan, verdict)
    scan.blob_key = None
    return None


def fail_scan(session: Session, scan: Scan, error: str) -> QuarantineEntry | None:
    """A scan that could not finish: never silently allowed, so a person gets to look at it."""
    scan.status = "failed"
    scan.verdict = "quarantine"
    scan.error = error
    scan.labels = encode_labels(["scan-failed"])
    audit.record(session, "service", "scan.fail", f"scan:{scan.id}", {"error": error})
    if scan.blob_key is None:
        return None
    return hold(session, scan, "quarantine")


def hold(session: Session, scan: Scan, action: str) -> QuarantineEntry:
    now = utcnow()
    entry = QuarantineEntry(id=new_id(), scan_id=scan.id, blob_key=scan.blob_key, state="held",
                            action=action, kind=scan.kind, labels=scan.labels, created_at=now,
                            updated_at=now)
    session.add(entry)
    audit.record(session, "service", "quarantine.hold", f"quarantine:{entry.id}",
                 {"scan": scan.id, "action": action, "sha256": scan.sha256})
    return entry


def blob_in_use(session: Session, blob_key: str) -> bool:
    """Whether a pending scan or an unreleased quarantine entry still needs this blob."""
    pending = session.scalar(select(func.count()).select_from(Scan).where(
        Scan.blob_key == blob_key, Scan.status == "pending"))
    held = session.scalar(select(func.count()).select_from(QuarantineEntry).where(
        QuarantineEntry.blob_key == blob_key,
        QuarantineEntry.state.in_(BLOB_KEEPING_STATES)))
    return bool(pending or held)


def lock_blob(session: Session, blob_key: str) -> None:
    """Serialise, across processes, "store a blob + insert its row" and "unused -> delete".

    Both critical sections run inside a transaction that holds this lock until it commits:
    on PostgreSQL a transaction-scoped advisory lock on the key; on SQLite the database write
    lock (one writer at a time), taken at once by a write that changes nothing. Without it a
    worker finishing an allowed item could delete the blob that a concurrent upload of the
    same bytes has just stored and acknowledged.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(blob_key[:15], 16)})
    else:
        session.execute(text("UPDATE scans SET id = id WHERE 1 = 0"))


def pending_scan_ids(session: Session) -> list[str]:
    """Scans accepted but not finished, oldest first: the jobs to resume after a restart."""
    return list(session.scalars(select(Scan.id).where(Scan.status == "pending")
                                .order_by(Scan.created_at)))


@dataclass(frozen=True)
class QueuePage:
    entries: Sequence[tuple[QuarantineEntry, Scan]]
    total: int


def review_queue(session: Session, *, state: str | None = "held", action: str | None = None,
                 label: str | None = None, kind: str | None = None, limit: int = 50,
                 offset: int = 0) -> QueuePage:
    """The quarantine queue, oldest first, filtered; ``total`` counts all matching entries."""
    if state is not None and state not in QUARANTINE_STATES:
        raise ReviewError(f"state {state!r} is not one of {', '.join(QUARANTINE_STATES)}")
    conditions = []
    if state is not None:
        conditions.append(QuarantineEntry.state == state)
    if action is not None:
        conditions.append(QuarantineEntry.action == action)
    if kind is not None:
        conditions.append(QuarantineEntry.kind == kind)
    if label is not None:
        # Labels never contain commas; escape LIKE's wildcards so "bank:%" is literal.
        literal = label.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(QuarantineEntry.labels.like(f"%,{literal},%", escape="\\"))
    base = select(QuarantineEntry, Scan).join(Scan, Scan.id == QuarantineEntry.scan_id)
    for condition in conditions:
        base = base.where(condition)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(QuarantineEntry.created_at, QuarantineEntry.id)
                           .limit(limit).offset(offset)).all()
    return QueuePage(entries=[(row[0], row[1]) for row in rows], total=total)


def check_decision(entry: QuarantineEntry, *, decision: str, reviewer: str, reason: str,
                   bank: str | None) -> None:
    """Raise :class:`ReviewError` if the decision cannot be applied (nothing is changed)."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if not reason or not reason.strip():
        raise ReviewError("a review decision needs a reason")
    if not reviewer:
        raise ReviewError("a review decision needs a reviewer identity")
    if entry.state == "released":
        raise ReviewError(f"quarantine entry {entry.id} was already released")
    if decision == "confirm" and not bank:
        raise ReviewError("confirm needs the bank the item's hashes go into")


def decide(session: Session, entry: QuarantineEntry, *, decision: str, reviewer: str,
           reviewer_key_id: str | None, reason: str, bank: str | None = None,
           details: dict[str, Any] | None = None) -> ReviewDecision:
    """Apply a reviewer's decision and audit it. Released entries are final."""
    check_decision(entry, decision=decision, reviewer=reviewer, reason=reason, bank=bank)
    previous = entry.state
    entry.state = NEXT_STATE[decision]
    entry.updated_at = utcnow()
    row = ReviewDecision(quarantine_id=entry.id, decision=decision, reviewer=reviewer,
                         reviewer_key_id=reviewer_key_id, reason=reason.strip(), bank=bank,
                         decided_at=utcnow())
    session.add(row)
    audit.record(session, reviewer, f"review.{decision}", f"quarantine:{entry.id}",
                 {"scan": entry.scan_id, "reason": row.reason, "from": previous,
                  "to": entry.state, "bank": bank, **(details or {})})
    return row


def decisions_for(session: Session, entry_id: str) -> list[ReviewDecision]:
    return list(session.scalars(select(ReviewDecision)
                                .where(ReviewDecision.quarantine_id == entry_id)
                                .order_by(ReviewDecision.id)))


def stored_scan(session: Session, scan_id: str) -> Scan:
    """A scan that must exist: a quarantine entry's (foreign key) or one just submitted.
    Scans are never deleted, so a missing one is a broken database, not the caller's error
    (a LookupError: a 500, never the 422 of a DeepscreenError)."""
    scan = session.get(Scan, scan_id)
    if scan is None:
        raise LookupError(f"scan {scan_id} is missing from the database")
    return scan


def find_entry(session: Session, ident: str) -> QuarantineEntry | None:
    """A quarantine entry by its own id or by its scan's id (callers know either)."""
    return session.scalar(select(QuarantineEntry).where(
        or_(QuarantineEntry.id == ident, QuarantineEntry.scan_id == ident)))
