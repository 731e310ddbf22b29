"""The service database: one engine and its sessions, on SQLite (the embedded default) or
PostgreSQL. Engines and migrations come from :mod:`deepscreen.database`, shared with the
hash banks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ..database import current_revision, make_engine, upgrade

__all__ = ["SQLITE_FILENAME", "Database", "current_revision", "default_database_url"]

SQLITE_FILENAME = "service.sqlite"


def default_database_url(home: Path) -> str:
    """SQLite in the data folder: the embedded default when no database URL is configured."""
    return f"sqlite:///{Path(home).expanduser() / SQLITE_FILENAME}"


class Database:
    """One engine and its session factory; ``session()`` commits or rolls back as a unit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with the Alembic migrations shipped in the package."""
        upgrade(self.engine, revision)

    def dispose(self) -> None:
        self.engine.dispose()
