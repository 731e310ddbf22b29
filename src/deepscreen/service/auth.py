"""API-key authentication, role checks and per-key rate limits as FastAPI dependencies.

Roles are ordered: submitter (scans, hash submissions) < reviewer (+ review) < admin
(+ banks, keys, audit). A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..store.keys import Principal, authenticate
from .context import ServiceContext, get_context
from .ratelimit import retry_after_header

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer dsk_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: dsk_...")


def require(role: str) -> Callable[..., Principal]:
    """A dependency that authenticates the caller, checks ``role`` and takes a rate token."""

    def dependency(request: Request,
                   bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
                   api_key: str | None = Depends(_header),
                   ctx: ServiceContext = Depends(get_context)) -> Principal:  # noqa: B008
        presented = bearer.credentials if bearer is not None else api_key
        if not presented:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API key is required",
                                headers={"WWW-Authenticate": "Bearer"})
        with ctx.db.session() as session:
            principal = authenticate(session, presented)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.key_id = principal.key_id
        if not principal.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this needs the {role} role; the key has {principal.role}")
        wait_s = ctx.rate_limits.take(principal.key_id)
        if wait_s > 0:
            raise rate_limited(wait_s, "rate limit exceeded")
        return principal

    return dependency


def rate_limited(wait_s: float, detail: str) -> HTTPException:
    """The 429 answer, telling the client when enough tokens will be back."""
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail,
                         headers={"Retry-After": retry_after_header(wait_s)})


Submitter = Depends(require("submitter"))
Reviewer = Depends(require("reviewer"))
Admin = Depends(require("admin"))
