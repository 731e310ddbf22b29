"""API keys: random secrets shown once, stored as a salted SHA-256, checked in constant time.

A key reads ``dsk_<id>_<secret>``: the id finds the row without scanning, the secret (32
random bytes) is what is hashed. A high-entropy random secret needs no slow password hash;
the salt keeps equal secrets from having equal hashes and precomputed tables useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import DeepscreenError
from . import audit
from .models import ROLES, ApiKey, utcnow

PREFIX = "dsk"


class ApiKeyError(DeepscreenError):
    """A key request was malformed (unknown role, unknown key id)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its name (the reviewer identity) and its role."""

    key_id: str
    name: str
    role: str

    def can(self, role: str) -> bool:
        """Roles are ordered: an admin may do what a reviewer may, a reviewer what a submitter may."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def create_key(session: Session, name: str, role: str, actor: str = "cli") -> tuple[str, ApiKey]:
    """Create a key; returns the plaintext (shown once, never stored) and its row."""
    if role not in ROLES:
        raise ApiKeyError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not name.strip():
        raise ApiKeyError("a key needs a name (it identifies the reviewer in the audit log)")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    row = ApiKey(id=key_id, name=name.strip(), role=role, salt=salt,
                 key_hash=_digest(salt, secret), created_at=utcnow())
    session.add(row)
    audit.record(session, actor, "apikey.create", f"apikey:{key_id}", {"name": row.name,
                                                                       "role": role})
    return f"{PREFIX}_{key_id}_{secret}", row


def authenticate(session: Session, presented: str) -> Principal | None:
    """The principal for a presented key, or ``None`` if it is malformed, unknown or revoked."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    _, key_id, secret = parts
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _digest(row.salt, secret)):
        return None
    return Principal(key_id=row.id, name=row.name, role=row.role)


def revoke_key(session: Session, key_id: str, actor: str = "cli") -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyError(f"no API key with id {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "apikey.revoke", f"apikey:{key_id}", {"name": row.name})
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
