"""The review UI's login session: a server-side session row, named by a signed cookie.

The cookie holds a random session id and a CSRF token, signed (HMAC) with a secret kept in
the service's data folder; never the key itself. Every request re-reads the session's row
and the key's, so logging out (the row is ended), revoking the key or lowering its role
ends the session at once, even for a copy of the cookie. Forms carry the CSRF token in a
hidden field and it must match the session's (the cookie is also ``SameSite=Strict``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..store.keys import Principal
from ..store.models import ApiKey, UISessionRow, utcnow

SESSION_COOKIE = "deepscreen_ui"
LOGIN_COOKIE = "deepscreen_ui_login"  # the CSRF token of the login form, before a session
SESSION_MAX_AGE_S = 8 * 3600  # a working day; then log in again
LOGIN_MAX_AGE_S = 3600
REQUIRED_ROLE = "reviewer"


@dataclass(frozen=True)
class UISession:
    """A logged-in reviewer and the CSRF token their forms must carry."""

    principal: Principal
    csrf: str
    session_id: str

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, presented or "")


class SessionSigner:
    """Signs and checks the UI's cookies; one per app (the secret is read once)."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="deepscreen.ui.session")
        self._login = URLSafeTimedSerializer(secret, salt="deepscreen.ui.login")

    def new_session(self, principal: Principal, db_session: Session) -> tuple[str, str]:
        """Start a session (its row in the caller's transaction): the cookie value and
        the session's CSRF token."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = utcnow()
        db_session.add(UISessionRow(id=session_id, key_id=principal.key_id, created_at=now,
                                    expires_at=now + timedelta(seconds=SESSION_MAX_AGE_S)))
        return self._session.dumps({"s": session_id, "c": csrf}), csrf

    def session(self, cookie: str | None, db_session: Session) -> UISession | None:
        """The reviewer behind a session cookie, or ``None`` (absent, forged, expired,
        logged out, revoked, or the key no longer has the reviewer role)."""
        data = _loads(self._session, cookie, SESSION_MAX_AGE_S)
        if not isinstance(data, dict) or not isinstance(data.get("s"), str):
            return None
        live = db_session.get(UISessionRow, data["s"])
        if live is None or live.ended_at is not None or live.expires_at <= utcnow():
            return None
        row = db_session.get(ApiKey, live.key_id)
        if row is None or row.revoked_at is not None:
            return None
        principal = Principal(key_id=row.id, name=row.name, role=row.role)
        if not principal.can(REQUIRED_ROLE):
            return None
        return UISession(principal=principal, csrf=str(data.get("c", "")), session_id=live.id)

    @staticmethod
    def end(session_id: str, db_session: Session) -> None:
        """Log out: the session stops working everywhere, whoever holds its cookie."""
        live = db_session.get(UISessionRow, session_id)
        if live is not None and live.ended_at is None:
            live.ended_at = utcnow()

    def new_login_token(self) -> tuple[str, str]:
        """A cookie value and the matching token for the login form."""
        token = secrets.token_urlsafe(24)
        return self._login.dumps(token), token

    def login_token_ok(self, cookie: str | None, presented: str | None) -> bool:
        expected = _loads(self._login, cookie, LOGIN_MAX_AGE_S)
        return (isinstance(expected, str) and bool(presented)
                and hmac.compare_digest(expected, presented or ""))


def _loads(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
    if not value:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except BadSignature:  # also covers SignatureExpired
        return None
