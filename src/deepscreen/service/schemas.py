"""Request and response bodies of the HTTP API (what /openapi.json documents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..store.models import QuarantineEntry, ReviewDecision, Scan
from ..store.records import decode_labels


class ScanOut(BaseModel):
    """A scan: where its job stands and, once done, its report (schema deepscreen.report/1)."""

    id: str
    status: Literal["pending", "done", "failed"]
    verdict: Literal["allow", "label", "quarantine", "block"] | None = None
    labels: list[str] = []
    sha256: str
    kind: str
    size: int
    source_name: str
    created_at: datetime
    updated_at: datetime
    quarantined: bool = False
    error: str | None = None
    report: dict[str, Any] | None = Field(
        None, description="The deepscreen.report/1 document; null while pending")

    @classmethod
    def of(cls, scan: Scan, quarantined: bool) -> ScanOut:
        return cls(id=scan.id, status=scan.status, verdict=scan.verdict,
                   labels=decode_labels(scan.labels), sha256=scan.sha256, kind=scan.kind,
                   size=scan.size, source_name=scan.source_name, created_at=scan.created_at,
                   updated_at=scan.updated_at, quarantined=quarantined, error=scan.error,
                   report=scan.report)


class BatchOut(BaseModel):
    """The scans a batch upload created, in the order of its files; all pending jobs."""

    scans: list[ScanOut]


class DecisionRecord(BaseModel):
    """A past decision on a quarantined item."""

    decision: str
    reviewer: str
    reason: str
    bank: str | None = None
    decided_at: datetime


class QueueEntryOut(BaseModel):
    """One item in the review queue (with its report and decisions when asked for one)."""

    id: str
    scan_id: str
    state: Literal["held", "released", "confirmed", "escalated"]
    action: str
    kind: str
    labels: list[str]
    sha256: str
    source_name: str
    created_at: datetime
    updated_at: datetime
    report: dict[str, Any] | None = None
    decisions: list[DecisionRecord] | None = None

    @classmethod
    def of(cls, entry: QuarantineEntry, scan: Scan, with_report: bool = False,
           decisions: list[ReviewDecision] | None = None) -> QueueEntryOut:
        history = None if decisions is None else [
            DecisionRecord(decision=d.decision, reviewer=d.reviewer, reason=d.reason,
                           bank=d.bank, decided_at=d.decided_at) for d in decisions]
        return cls(id=entry.id, scan_id=entry.scan_id, state=entry.state, action=entry.action,
                   kind=entry.kind, labels=decode_labels(entry.labels), sha256=scan.sha256,
                   source_name=scan.source_name, created_at=entry.created_at,
                   updated_at=entry.updated_at, report=scan.report if with_report else None,
                   decisions=history)


class QueuePage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[QueueEntryOut]


class DecisionIn(BaseModel):
    """A reviewer's decision. ``confirm`` puts the item's hashes into ``bank``."""

    decision: Literal["release", "confirm", "escalate"]
    reason: str = Field(min_length=1, max_length=4000)
    bank: str | None = Field(None, description="Bank for confirm (the item's hashes go in)")


class DecisionOut(BaseModel):
    entry: QueueEntryOut
    decision: str
    reviewer: str
    reason: str
    bank: str | None = None
    hashes_added: int = 0
    decided_at: datetime


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role: Literal["submitter", "reviewer", "admin"]


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret: shown once, store it now")


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    pending_jobs: int
