"""The audit log: who did what to which item, appended and never rewritten.

The database refuses UPDATE and DELETE on the table (triggers from migration 0001); the
ORM refuses them too, so a code path that tries fails loudly in tests on every backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ..errors import DeepscreenError
from .models import AuditEvent, utcnow


class AuditLogError(DeepscreenError):
    """Something tried to change or remove an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise AuditLogError(f"audit event {target.id} cannot be changed: the log is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise AuditLogError(f"audit event {target.id} cannot be deleted: the log is append-only")


def record(session: Session, actor: str, action: str, subject: str,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event in the caller's transaction, so it commits with the change it describes."""
    entry = AuditEvent(at=utcnow(), actor=actor, action=action, subject=subject,
                       details=details or {})
    session.add(entry)
    return entry


def events(session: Session, since: datetime | None = None, after_id: int | None = None,
           limit: int | None = None) -> Iterator[AuditEvent]:
    """Events in the order they were written, from ``since`` (a time) or after an id."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if after_id is not None:
        query = query.where(AuditEvent.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query)


def to_json_line(entry: AuditEvent) -> str:
    """One event as a JSON Lines record (what ``GET /v1/audit`` streams)."""
    return json.dumps({"id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor,
                       "action": entry.action, "subject": entry.subject,
                       "details": entry.details}, ensure_ascii=False, sort_keys=True)
