"""The review web UI: server-rendered pages over the same store and decisions as the API.

Mounted by the app factory (``app.include_router(ui.router)``) under ``/ui``. Plain HTML
forms, no scripts: reviewers log in with their API key (reviewer role), see the quarantine
queue, open an item (verdict, reasons, provenance, bank matches, faces, timeline, the image
itself) and release, confirm into a bank or escalate it with a reason. Decisions go through
the API's own handler (:func:`deepscreen.service.routes.review.decide`), so the UI and the
API cannot disagree on what a decision does or how it is audited.

Every value from an item (file name, metadata, evidence) is attacker-controlled: templates
autoescape, the pages forbid scripts with a Content-Security-Policy, and the media preview
is served only for raster image types, with ``nosniff`` and a sandboxing policy.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from ..store import audit
from ..store import keys as api_keys
from ..store import records as rec
from ..store.models import DECISIONS, QUARANTINE_STATES, Scan
from .context import ServiceContext, get_context
from .schemas import DecisionIn
from .ui_report import report_view
from .ui_session import (
    LOGIN_COOKIE,
    LOGIN_MAX_AGE_S,
    REQUIRED_ROLE,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SessionSigner,
    UISession,
    ui_secret,
)

PREFIX = "/ui"
PAGE_SIZE = 50
ACTIONS = ("quarantine", "block")
KINDS = ("image", "video", "audio", "unknown")

# No scripts at all; images only from here or inline data (face crops); forms post here.
PAGE_CSP = ("default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The original media: shown as an image, never run or framed, even if a browser sniffed it.
MEDIA_CSP = "default-src 'none'; sandbox"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

router = APIRouter(prefix=PREFIX, tags=["review UI"], include_in_schema=False)
Context = Annotated[ServiceContext, Depends(get_context)]

_templates = Environment(loader=PackageLoader("deepscreen.service", "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True))
# JSON as readable text (a plain string, so autoescaping still applies to it).
_templates.filters["as_json"] = lambda value: json.dumps(value, ensure_ascii=False,
                                                         sort_keys=True, default=str)


def _signer(request: Request, ctx: ServiceContext) -> SessionSigner:
    # One signer per app: the secret file is read once, not on every request.
    signer = getattr(request.app.state, "ui_signer", None)
    if signer is None:
        signer = SessionSigner(ui_secret(ctx.settings.data_dir))
        request.app.state.ui_signer = signer
    return signer


def _page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    html = _templates.get_template(name).render(prefix=PREFIX, **values)
    return HTMLResponse(html, status_code=status_code,
                        headers={"Content-Security-Policy": PAGE_CSP, **SECURITY_HEADERS})


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def reviewer_session(request: Request, ctx: Context) -> UISession:
    """The logged-in reviewer, or a redirect to the login page."""
    with ctx.db.session() as session:
        found = _signer(request, ctx).session(request.cookies.get(SESSION_COOKIE), session)
    if found is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "log in first",
                            headers={"Location": f"{PREFIX}/login", **SECURITY_HEADERS})
    return found


Reviewer = Annotated[UISession, Depends(reviewer_session)]


# --- login -----------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(ctx: Context, request: Request, error: str | None = None) -> HTMLResponse:
    """The login form (an API key with the reviewer role)."""
    cookie, token = _signer(request, ctx).new_login_token()
    response = _page("login.html", status_code=401 if error else 200, csrf=token, error=error)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=LOGIN_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=_secure(request), path=PREFIX)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(ctx: Context, request: Request, api_key: Annotated[str, Form(max_length=200)] = "",
          csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Check the key and the form token; start a session for a reviewer or admin key."""
    signer = _signer(request, ctx)
    if not signer.login_token_ok(request.cookies.get(LOGIN_COOKIE), csrf):
        return login_form(ctx, request, error="The login form expired; please try again.")
    with ctx.db.session() as session:
        principal = api_keys.authenticate(session, api_key) if api_key else None
        if principal is None:
            return login_form(ctx, request, error="Unknown or revoked API key.")
        if not principal.can(REQUIRED_ROLE):
            return login_form(ctx, request, error=f"This key has the {principal.role} role; "
                              f"the review UI needs {REQUIRED_ROLE}.")
        audit.record(session, principal.name, "review.login", f"apikey:{principal.key_id}",
                     {"via": "ui"})
    cookie, _csrf = signer.new_session(principal)
    response = RedirectResponse(f"{PREFIX}/queue", status_code=status.HTTP_303_SEE_OTHER,
                                headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=_secure(request), path=PREFIX)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(reviewer: Reviewer, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    if not reviewer.csrf_ok(csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing form token")
    response = RedirectResponse(f"{PREFIX}/login", status_code=status.HTTP_303_SEE_OTHER,
                                headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


# --- the queue -------------------------------------------------------------------------------

@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/queue", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/queue", response_class=HTMLResponse)
def queue(ctx: Context, reviewer: Reviewer,
          state: Annotated[str, Query(max_length=20)] = "held",
          action: Annotated[str, Query(max_length=20)] = "",
          kind: Annotated[str, Query(max_length=20)] = "",
          label: Annotated[str, Query(max_length=200)] = "",
          page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> HTMLResponse:
    """Quarantined items, oldest first, filtered by state, verdict, kind and label."""
    filters = {"state": state if state in QUARANTINE_STATES else "",
               "action": action if action in ACTIONS else "",
               "kind": kind if kind in KINDS else "", "label": label.strip()}
    with ctx.db.session() as session:
        result = rec.review_queue(session, state=filters["state"] or None,
                                  action=filters["action"] or None,
                                  kind=filters["kind"] or None, label=filters["label"] or None,
                                  limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        rows = [{"id": entry.id, "source": scan.source_name, "kind": entry.kind,
                 "action": entry.action, "state": entry.state, "created": entry.created_at,
                 "labels": rec.decode_labels(entry.labels), "size": scan.size}
                for entry, scan in result.entries]
    pages = max(1, -(-result.total // PAGE_SIZE))
    link = {k: v for k, v in filters.items() if v}
    return _page("queue.html", reviewer=reviewer, rows=rows, total=result.total, page=page,
                 pages=pages, filters=filters, states=QUARANTINE_STATES, actions=ACTIONS,
                 kinds=KINDS, prev_query=urlencode({**link, "page": page - 1}),
                 next_query=urlencode({**link, "page": page + 1}))


# --- one item --------------------------------------------------------------------------------

@router.get("/items/{entry_id}", response_class=HTMLResponse)
def item(entry_id: str, ctx: Context, reviewer: Reviewer, done: str | None = None
         ) -> HTMLResponse:
    """An item with its verdict and evidence, and the decision forms."""
    return _item_page(ctx, reviewer, entry_id,
                      notice=f"Decision recorded: {done}." if done in DECISIONS else None)


def _item_page(ctx: ServiceContext, reviewer: UISession, entry_id: str,
               notice: str | None = None, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    with ctx.db.session() as session:
        entry = rec.find_entry(session, entry_id)
        if entry is None:
            return _page("message.html", status_code=404, reviewer=reviewer,
                         title="Not found", message=f"There is no quarantine entry {entry_id}.")
        scan = session.get(Scan, entry.scan_id)
        decisions = [{"decision": d.decision, "reviewer": d.reviewer, "reason": d.reason,
                      "bank": d.bank, "at": d.decided_at}
                     for d in rec.decisions_for(session, entry.id)]
        entry_view = {"id": entry.id, "scan_id": entry.scan_id, "state": entry.state,
                      "action": entry.action, "kind": entry.kind,
                      "labels": rec.decode_labels(entry.labels), "created": entry.created_at,
                      "source": scan.source_name, "status": scan.status, "error": scan.error,
                      "submitted_by": scan.submitted_by}
        report = report_view(scan.report)
    banks = [bank.name for bank in ctx.banks.list_banks(counts=False)]
    return _page("item.html", status_code=status_code, reviewer=reviewer, entry=entry_view,
                 report=report, decisions=decisions, banks=banks, notice=notice, error=error,
                 can_preview=report.previewable and entry_view["state"] != "released",
                 can_play=report.playable and entry_view["state"] != "released")


@router.get("/items/{entry_id}/media")
def media(entry_id: str, ctx: Context, reviewer: Reviewer) -> Response:
    """The held image (preview) or audio (player) itself; every view is audited."""
    with ctx.db.session() as session:
        entry = rec.find_entry(session, entry_id)
        if entry is None or entry.state == "released" or not ctx.blobs.exists(entry.blob_key):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no held media for this entry")
        scan = session.get(Scan, entry.scan_id)
        view = report_view(scan.report)
        if not (view.previewable or view.playable):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no preview for this media type")
        audit.record(session, reviewer.principal.name, "review.view-media",
                     f"quarantine:{entry.id}", {"key_id": reviewer.principal.key_id,
                                                "via": "ui"})
        path = ctx.blobs.path(entry.blob_key)
    return FileResponse(path, media_type=view.mime,
                        headers={"Content-Security-Policy": MEDIA_CSP,
                                 "Content-Disposition": "inline", **SECURITY_HEADERS})


@router.post("/items/{entry_id}/decision", response_class=HTMLResponse)
def decide(entry_id: str, ctx: Context, reviewer: Reviewer,
           decision: Annotated[str, Form(max_length=20)] = "",
           reason: Annotated[str, Form(max_length=4000)] = "",
           bank: Annotated[str, Form(max_length=128)] = "",
           csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Apply a decision through the API's handler; back to the item page either way."""
    from .routes import review

    if not reviewer.csrf_ok(csrf):
        return _item_page(ctx, reviewer, entry_id, status_code=403,
                          error="The form token is missing or stale; reload the page.")
    if not reason.strip():
        return _item_page(ctx, reviewer, entry_id, status_code=422,
                          error="A decision needs a reason.")
    try:
        body = DecisionIn(decision=decision, reason=reason.strip(), bank=bank or None)
    except ValidationError:
        return _item_page(ctx, reviewer, entry_id, status_code=422,
                          error="Choose release, confirm or escalate.")
    try:
        review.decide(entry_id, body, ctx, reviewer.principal)
    except HTTPException as exc:
        return _item_page(ctx, reviewer, entry_id, status_code=exc.status_code,
                          error=str(exc.detail))
    return RedirectResponse(f"{PREFIX}/items/{entry_id}?done={decision}",
                            status_code=status.HTTP_303_SEE_OTHER, headers=SECURITY_HEADERS)
