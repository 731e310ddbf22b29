"""The service's tables (SQLAlchemy 2), in their own ``metadata`` so migrations can list them.

Portable across SQLite (the embedded default) and PostgreSQL: JSON columns become JSONB on
PostgreSQL, timestamps are stored as UTC and always read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..policy import Action

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ScanStatus = Literal["pending", "done", "failed"]
QuarantineState = Literal["held", "released", "confirmed", "escalated"]
Decision = Literal["release", "confirm", "escalate"]
Role = Literal["submitter", "reviewer", "admin"]
DeliveryStatus = Literal["pending", "delivered", "failed"]
SubmissionState = Literal["pending", "approved", "rejected"]
SCAN_STATUSES: tuple[ScanStatus, ...] = get_args(ScanStatus)
QUARANTINE_STATES: tuple[QuarantineState, ...] = get_args(QuarantineState)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
ROLES: tuple[Role, ...] = get_args(Role)  # in order: each may do what the one before may
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
SUBMISSION_STATES: tuple[SubmissionState, ...] = get_args(SubmissionState)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = metadata


class Scan(Base):
    """One screened item: its identity, where its job stands, and its report.

    ``blob_key`` is set while the service keeps the item's bytes: a pending job, or a
    quarantined item. Allowed items keep only their hashes and report.
    """

    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    md5: Mapped[str | None] = mapped_column(String(32))
    source_name: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ScanStatus] = mapped_column(String(16), index=True)
    verdict: Mapped[Action | None] = mapped_column(String(16))
    # ",label-a,label-b," so that one portable LIKE filters by label on every backend.
    labels: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    error: Mapped[str | None] = mapped_column(Text)
    blob_key: Mapped[str | None] = mapped_column(String(64))
    callback_url: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    # The key that submitted it: a submitter sees only its own scans (None before 0003).
    submitted_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class QuarantineEntry(Base):
    """An item held for a person: its blob stays on disk until a reviewer releases it."""

    __tablename__ = "quarantine"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id"), unique=True)
    blob_key: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[QuarantineState] = mapped_column(String(16), index=True)
    action: Mapped[str] = mapped_column(String(16))  # the verdict that put it here
    kind: Mapped[str] = mapped_column(String(16))
    labels: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReviewDecision(Base):
    """What a reviewer decided about a quarantined item, and why."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    quarantine_id: Mapped[str] = mapped_column(ForeignKey("quarantine.id"), index=True)
    decision: Mapped[Decision] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    reviewer_key_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    bank: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """One line of the append-only audit log (never updated or deleted)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class ApiKey(Base):
    """An API key: only a salted hash of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """A report to POST to a webhook; kept until delivered or out of attempts."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed
    status: Mapped[DeliveryStatus] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HashSubmission(Base):
    """Hashes a submitter proposed for a bank (``POST /v1/hashes``), waiting for a reviewer.

    Nothing reaches the bank until a reviewer approves: a submitter key alone cannot get
    content blocked for everyone.
    """

    __tablename__ = "hash_submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bank: Mapped[str] = mapped_column(String(64), index=True)
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    entry_count: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(256))
    state: Mapped[SubmissionState] = mapped_column(String(16), index=True)
    submitted_by: Mapped[str] = mapped_column(String(128))
    submitted_key_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_key_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    added: Mapped[int | None] = mapped_column(Integer)  # entries the bank took on approval
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UISessionRow(Base):
    """A review-UI login; its cookie names it, and logging out ends it here, not only in
    the browser (a copied cookie stops working)."""

    __tablename__ = "ui_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
