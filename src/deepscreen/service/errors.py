"""The service's domain errors as HTTP statuses, in one place: the API's exception handlers
and the review UI's pages both ask :func:`status_for`."""

from __future__ import annotations

from ..errors import DeepscreenError
from ..store.blobs import BlobError
from .reviewing import Conflict, NotAllowed, NotFound

STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404),
    (NotAllowed, 403),
    (Conflict, 409),
    (BlobError, 503),  # the blob store cannot write (disk full): nothing was accepted
    (DeepscreenError, 422),  # anything else the caller sent that we refuse, with the reason
)


def status_for(exc: Exception) -> int:
    """The HTTP status for a domain error (500 for anything unexpected)."""
    for kind, code in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return code
    return 500
