"""Role checks for the routes, over the principal that admission authenticated.

Roles are ordered: submitter (scans, hash submissions) < reviewer (+ review) < admin
(+ banks, keys, audit). A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key``.
The key is checked, and its rate-limit token taken, by :mod:`deepscreen.service.admission`
before the request body is read; the dependencies here only check the role.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..store import Database
from ..store.keys import Principal, authenticate
from .ratelimit import RateLimiter, retry_after_header

# Declared so the OpenAPI document shows how to authenticate; admission reads the headers.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer dsk_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: dsk_...")


class DatabaseKeys:
    """The :class:`~deepscreen.service.admission.KeyChecker` of a running service."""

    def __init__(self, db: Database, rate_limits: RateLimiter) -> None:
        self._db = db
        self._rate_limits = rate_limits

    def authenticate(self, presented: str) -> Principal | None:
        with self._db.session() as session:
            return authenticate(session, presented)

    def take_token(self, key_id: str) -> float:
        return self._rate_limits.take(key_id)


def require(role: str) -> Callable[..., Principal]:
    """A dependency that returns the caller's principal if its role allows ``role``."""

    def dependency(request: Request,
                   _bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
                   _api_key: str | None = Depends(_header)) -> Principal:
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):  # a route outside /v1 asked for a key
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required",
                                headers={"WWW-Authenticate": "Bearer"})
        if not principal.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this needs the {role} role; the key has {principal.role}")
        return principal

    return dependency


def rate_limited(wait_s: float, detail: str) -> HTTPException:
    """The 429 answer, telling the client when enough tokens will be back."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail,
                         headers={"Retry-After": retry_after_header(wait_s)})


Submitter = Depends(require("submitter"))
Reviewer = Depends(require("reviewer"))
Admin = Depends(require("admin"))
