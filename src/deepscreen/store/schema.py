"""Every table the migrations manage: the service store's and the hash banks'."""

from __future__ import annotations

from sqlalchemy import MetaData

from ..banks import metadata as banks_metadata
from .models import metadata as store_metadata


def all_metadata() -> list[MetaData]:
    """The MetaData objects Alembic compares the migrations against."""
    return [store_metadata, banks_metadata]
