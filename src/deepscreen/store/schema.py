"""Every table the service's migrations manage: the store's own and the hash banks'."""

from __future__ import annotations

from sqlalchemy import MetaData

from .models import metadata as store_metadata


def all_metadata() -> list[MetaData]:
    """The MetaData objects Alembic compares against (banks' tables once that package exists)."""
    result = [store_metadata]
    try:
        from ..banks import metadata as banks_metadata  # type: ignore[attr-defined]
    except ImportError:
        return result
    result.append(banks_metadata)
    return result
