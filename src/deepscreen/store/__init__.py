"""Service storage: database (SQLite default, PostgreSQL), quarantine blobs, audit log, API keys.

    >>> from deepscreen.store import Database, BlobStore
    >>> db = Database("sqlite:////var/lib/deepscreen/service.sqlite"); db.upgrade()
"""

from .blobs import BlobError, BlobStore, StoredBlob
from .db import DATABASE_URL_ENV, Database, database_url
from .models import (
    ApiKey,
    AuditEvent,
    QuarantineEntry,
    ReviewDecision,
    Scan,
    WebhookDelivery,
    metadata,
)

__all__ = [
    "DATABASE_URL_ENV",
    "ApiKey",
    "AuditEvent",
    "BlobError",
    "BlobStore",
    "Database",
    "QuarantineEntry",
    "ReviewDecision",
    "Scan",
    "StoredBlob",
    "WebhookDelivery",
    "database_url",
    "metadata",
]
