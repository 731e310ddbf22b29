"""The review UI's login session: a signed cookie naming the API key, plus a CSRF token.

The cookie holds the key's id and a random CSRF token, signed (HMAC) with a secret kept in
the service's data folder; never the key itself. Every request re-reads the key's row, so
revoking a key or lowering its role ends its UI sessions at once. Forms carry the CSRF token
in a hidden field and it must match the session's (the cookie is also ``SameSite=Strict``).
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from ..store.keys import Principal
from ..store.models import ApiKey

SESSION_COOKIE = "deepscreen_ui"
LOGIN_COOKIE = "deepscreen_ui_login"  # the CSRF token of the login form, before a session
SESSION_MAX_AGE_S = 8 * 3600  # a working day; then log in again
LOGIN_MAX_AGE_S = 3600
SECRET_ENV = "DEEPSCREEN_UI_SECRET"
REQUIRED_ROLE = "reviewer"


@dataclass(frozen=True)
class UISession:
    """A logged-in reviewer and the CSRF token their forms must carry."""

    principal: Principal
    csrf: str

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, presented or "")


class SessionSigner:
    """Signs and checks the UI's cookies; one per app (the secret is read once)."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="deepscreen.ui.session")
        self._login = URLSafeTimedSerializer(secret, salt="deepscreen.ui.login")

    def new_session(self, principal: Principal) -> tuple[str, str]:
        """The cookie value for a fresh session, and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        return self._session.dumps({"k": principal.key_id, "c": csrf}), csrf

    def session(self, cookie: str | None, db_session: Session) -> UISession | None:
        """The reviewer behind a session cookie, or ``None`` (absent, forged, expired,
        revoked, or the key no longer has the reviewer role)."""
        data = _loads(self._session, cookie, SESSION_MAX_AGE_S)
        if not isinstance(data, dict) or not isinstance(data.get("k"), str):
            return None
        row = db_session.get(ApiKey, data["k"])
        if row is None or row.revoked_at is not None:
            return None
        principal = Principal(key_id=row.id, name=row.name, role=row.role)
        if not principal.can(REQUIRED_ROLE):
            return None
        return UISession(principal=principal, csrf=str(data.get("c", "")))

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


def ui_secret(data_dir: Path) -> str:
    """``$DEEPSCREEN_UI_SECRET``, else a random secret made once in ``data_dir`` (mode 0600).

    Several service processes sharing a data folder share the secret, so a session made by
    one is accepted by the others.
    """
    configured = os.environ.get(SECRET_ENV)
    if configured:
        return configured
    path = data_dir / "ui.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip()
