"""The review web UI: server-rendered pages over the same store and decisions as the API.

Mounted by the app factory (``app.include_router(ui.router)``) under ``/ui``. Plain HTML
forms, no scripts: reviewers log in with their API key (reviewer role), see the quarantine
queue, open an item (verdict, reasons, provenance, bank matches, faces, timeline, the image
itself) and release, confirm into a bank or escalate it with a reason. Decisions and media
go through the same review workflow as the API (:mod:`deepscreen.service.reviewing`), so the
UI and the API cannot disagree on what a decision does or how it is audited.

Every value from an item (file name, metadata, evidence) is attacker-controlled: templates
autoescape, the pages forbid scripts with a Content-Security-Policy, and the media preview
is served only for raster image types, with ``nosniff`` and a sandboxing policy.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ..errors import DeepscreenError
from ..html_report import MAX_SHOWN_CHARS
from ..media import MediaKind
from ..store import audit
from ..store import keys as api_keys
from ..store import records as rec
from ..store.models import DECISIONS, QUARANTINE_STATES, SUBMISSION_STATES
from ..styles import badge_css
from ..text import visible
from .context import Context, ServiceContext
from .errors import status_for
from .reviewing import NotFound
from .ui_report import PLAYABLE_MIME, PREVIEWABLE_MIME, read_stored, report_view
from .ui_session import (
    LOGIN_COOKIE,
    LOGIN_MAX_AGE_S,
    REQUIRED_ROLE,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    SessionSigner,
    UISession,
)

PREFIX = "/ui"
PAGE_SIZE = 50
ACTIONS = rec.HELD_ACTIONS  # the verdicts that put an item in the queue
KINDS: tuple[str, ...] = get_args(MediaKind)

# No scripts at all; images only from here or inline data (face crops); forms post here.
PAGE_CSP = ("default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# The original media: shown as an image, never run or framed, even if a browser sniffed it.
MEDIA_CSP = "default-src 'none'; sandbox"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

router = APIRouter(prefix=PREFIX, tags=["review UI"], include_in_schema=False)

def _shown(value: Any) -> Any:
    """Every value a template prints, before autoescaping: hidden characters of strings made
    visible and long ones cut (names and metadata come from uploads); markup passes."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, MAX_SHOWN_CHARS, one_line=False)
    return value


_templates = Environment(loader=PackageLoader("deepscreen.service", "templates"),
                         autoescape=select_autoescape(default=True, default_for_string=True),
                         finalize=_shown)
# JSON as readable text (a plain string, so autoescaping still applies to it).
_templates.globals["badge_css"] = Markup(badge_css())  # verdict colours, named in deepscreen.styles
_templates.filters["as_json"] = lambda value: json.dumps(value, ensure_ascii=False,
                                                         sort_keys=True, default=str)


def _signer(request: Request, ctx: ServiceContext) -> SessionSigner:
    # One signer per app: the secret file is read once, not on every request.
    signer = getattr(request.app.state, "ui_signer", None)
    if signer is None:
        signer = SessionSigner(ctx.settings.resolved_ui_secret())
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
        cookie, _csrf = signer.new_session(principal, session)
    response = RedirectResponse(f"{PREFIX}/queue", status_code=status.HTTP_303_SEE_OTHER,
                                headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_MAX_AGE_S, httponly=True,
                        samesite="strict", secure=_secure(request), path=PREFIX)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
def logout(ctx: Context, reviewer: Reviewer, csrf: Annotated[str, Form(max_length=200)] = ""
           ) -> Response:
    """End the session on the server (a copied cookie stops working too) and in the browser."""
    if not reviewer.csrf_ok(csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "bad or missing form token")
    with ctx.db.session() as session:
        SessionSigner.end(reviewer.session_id, session)
        audit.record(session, reviewer.principal.name, "review.logout",
                     f"apikey:{reviewer.principal.key_id}", {"via": "ui"})
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
        scan = rec.stored_scan(session, entry.scan_id)
        decisions = [{"decision": d.decision, "reviewer": d.reviewer, "reason": d.reason,
                      "bank": d.bank, "at": d.decided_at}
                     for d in rec.decisions_for(session, entry.id)]
        entry_view = {"id": entry.id, "scan_id": entry.scan_id, "state": entry.state,
                      "action": entry.action, "kind": entry.kind,
                      "labels": rec.decode_labels(entry.labels), "created": entry.created_at,
                      "source": scan.source_name, "status": scan.status, "error": scan.error,
                      "submitted_by": scan.submitted_by}
        report = report_view(read_stored(scan.report))
    banks = [bank.name for bank in ctx.banks.list_banks(counts=False)]
    return _page("item.html", status_code=status_code, reviewer=reviewer, entry=entry_view,
                 report=report, decisions=decisions, banks=banks, notice=notice, error=error,
                 can_preview=report.previewable and entry_view["state"] != "released",
                 can_play=report.playable and entry_view["state"] != "released")


@router.get("/items/{entry_id}/media")
def media(entry_id: str, ctx: Context, reviewer: Reviewer) -> Response:
    """The held image (preview) or audio (player) itself; every view is audited."""
    try:
        held = ctx.review.held_media(reviewer.principal, entry_id, via="ui",
                                     types=PREVIEWABLE_MIME | PLAYABLE_MIME)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return FileResponse(held.path, media_type=held.mime,
                        headers={"Content-Security-Policy": MEDIA_CSP,
                                 "Content-Disposition": "inline", **SECURITY_HEADERS})


@router.post("/items/{entry_id}/decision", response_class=HTMLResponse)
def decide(entry_id: str, ctx: Context, reviewer: Reviewer,
           decision: Annotated[str, Form(max_length=20)] = "",
           reason: Annotated[str, Form(max_length=4000)] = "",
           bank: Annotated[str, Form(max_length=128)] = "",
           csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Apply a decision through the review workflow; back to the item page either way."""
    if not reviewer.csrf_ok(csrf):
        return _item_page(ctx, reviewer, entry_id, status_code=403,
                          error="The form token is missing or stale; reload the page.")
    if not reason.strip():
        return _item_page(ctx, reviewer, entry_id, status_code=422,
                          error="A decision needs a reason.")
    if decision not in DECISIONS:
        return _item_page(ctx, reviewer, entry_id, status_code=422,
                          error="Choose release, confirm or escalate.")
    try:
        ctx.review.decide(reviewer.principal, entry_id, decision, reason.strip(), bank or None)
    except DeepscreenError as exc:
        return _item_page(ctx, reviewer, entry_id, status_code=status_for(exc), error=str(exc))
    return RedirectResponse(f"{PREFIX}/items/{entry_id}?done={decision}",
                            status_code=status.HTTP_303_SEE_OTHER, headers=SECURITY_HEADERS)


# --- hash submissions ------------------------------------------------------------------------

SHOWN_ENTRIES = 200  # a submission holds up to 10,000; the page shows the first ones


@router.get("/submissions", response_class=HTMLResponse)
def submissions(ctx: Context, reviewer: Reviewer,
                state: Annotated[str, Query(max_length=20)] = "pending") -> HTMLResponse:
    """Hash submissions waiting for a decision (or in the state asked for), oldest first."""
    chosen = state if state in SUBMISSION_STATES else None
    found = ctx.hash_submissions.page(reviewer.principal, state=chosen, limit=PAGE_SIZE)
    return _page("submissions.html", reviewer=reviewer, rows=found.submissions,
                 total=found.total, state=chosen or "", states=SUBMISSION_STATES)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission(submission_id: str, ctx: Context, reviewer: Reviewer,
               done: str | None = None) -> HTMLResponse:
    return _submission_page(ctx, reviewer, submission_id,
                            notice=f"Decision recorded: {done}." if done else None)


def _submission_page(ctx: ServiceContext, reviewer: UISession, submission_id: str,
                     notice: str | None = None, error: str | None = None,
                     status_code: int = 200) -> HTMLResponse:
    try:
        row = ctx.hash_submissions.get(reviewer.principal, submission_id)
    except NotFound as exc:
        return _page("message.html", status_code=404, reviewer=reviewer, title="Not found",
                     message=str(exc))
    return _page("submission.html", status_code=status_code, reviewer=reviewer, s=row,
                 entries=row.entries[:SHOWN_ENTRIES],
                 more=max(0, row.entry_count - SHOWN_ENTRIES), notice=notice, error=error)


@router.post("/submissions/{submission_id}/decision", response_class=HTMLResponse)
def decide_submission(submission_id: str, ctx: Context, reviewer: Reviewer,
                      decision: Annotated[str, Form(max_length=20)] = "",
                      reason: Annotated[str, Form(max_length=4000)] = "",
                      csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Approve or reject through the same workflow as the API; back to the page either way."""
    if not reviewer.csrf_ok(csrf):
        return _submission_page(ctx, reviewer, submission_id, status_code=403,
                                error="The form token is missing or stale; reload the page.")
    if not reason.strip():
        return _submission_page(ctx, reviewer, submission_id, status_code=422,
                                error="A decision needs a reason.")
    try:
        ctx.hash_submissions.decide(reviewer.principal, submission_id, decision, reason.strip())
    except DeepscreenError as exc:
        return _submission_page(ctx, reviewer, submission_id, status_code=status_for(exc),
                                error=str(exc))
    return RedirectResponse(f"{PREFIX}/submissions/{submission_id}?done={decision}",
                            status_code=status.HTTP_303_SEE_OTHER, headers=SECURITY_HEADERS)
