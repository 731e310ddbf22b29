"""Admin endpoints: API keys and the audit log export (JSON Lines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from ...store import audit, keys
from ...store.keys import Principal
from ..auth import Admin
from ..context import Context
from ..schemas import KeyCreated, KeyIn, KeyOut

router = APIRouter(tags=["admin"])

_AUDIT_PAGE = 1000


@router.post("/v1/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyIn, ctx: Context, principal: Principal = Admin) -> KeyCreated:
    """Create an API key; the secret is in this response only."""
    with ctx.db.session() as session:
        plaintext, row = keys.create_key(session, body.name, body.role, actor=principal.name)
        return KeyCreated(id=row.id, name=row.name, role=row.role, created_at=row.created_at,
                          key=plaintext)


@router.get("/v1/keys", response_model=list[KeyOut])
def list_keys(ctx: Context, principal: Principal = Admin) -> list[KeyOut]:
    with ctx.db.session() as session:
        return [KeyOut(id=k.id, name=k.name, role=k.role, created_at=k.created_at,
                       revoked_at=k.revoked_at) for k in keys.list_keys(session)]


@router.delete("/v1/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, ctx: Context, principal: Principal = Admin) -> KeyOut:
    """Revoke a key; it stops working at once."""
    with ctx.db.session() as session:
        try:
            row = keys.revoke_key(session, key_id, actor=principal.name)
        except keys.ApiKeyError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return KeyOut(id=row.id, name=row.name, role=row.role, created_at=row.created_at,
                      revoked_at=row.revoked_at)


@router.get("/v1/audit", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "One JSON object per line, oldest first"}})
def export_audit(ctx: Context,
                 since: Annotated[datetime | None, Query(
                     description="ISO 8601 time, e.g. 2026-11-22T00:00:00Z")] = None,
                 after_id: Annotated[int | None, Query(ge=0, description=(
                     "Resume after this event id (ids only grow)"))] = None,
                 principal: Principal = Admin) -> StreamingResponse:
    """The audit log as JSON Lines, streamed in pages so a large log never sits in memory."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "since needs a time zone (e.g. a trailing Z)")

    def lines() -> Iterator[str]:
        last = after_id
        while True:
            with ctx.db.session() as session:
                events = list(audit.events(session, since=since, after_id=last,
                                           limit=_AUDIT_PAGE))
                page = [audit.to_json_line(e) + "\n" for e in events]
            yield from page
            if len(events) < _AUDIT_PAGE:
                return
            last = events[-1].id

    return StreamingResponse(lines(), media_type="application/x-ndjson")
