"""Service storage: database (SQLite default, PostgreSQL), quarantine blobs, audit log, API keys.

    >>> from deepscreen.store import Database, BlobStore
    >>> db = Database("sqlite:////var/lib/deepscreen/service.sqlite"); db.upgrade()
"""

from .blobs import BlobError, BlobStore, StoredBlob
from .db import Database, default_database_url
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
    "default_database_url",
    "metadata",
]
