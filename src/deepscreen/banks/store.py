"""Bank storage through SQLAlchemy: SQLite by default, or any SQLAlchemy URL (PostgreSQL).

The tables are declared in their own :data:`metadata` (migration 0002 creates them, with
the rest of the schema); the engine comes from :func:`deepscreen.database.make_engine`.
Storage knows nothing about matching; :mod:`.matcher` reads from it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from ..database import ensure_schema, make_engine
from ..errors import BankError, DeepscreenError
from .entries import Bank, BankEntry, NewEntry
from .hashing import PDQ_DEFAULT_THRESHOLD
from .signal_types import SIGNAL_TYPES, normalize_value
from .vpdq import DEFAULT_COMPARED_MATCH_PERCENT, DEFAULT_QUERY_MATCH_PERCENT

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; elsewhere entry ids are 64-bit.
_EntryId = BigInteger().with_variant(Integer(), "sqlite")

banks_table = Table(
    "banks", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("label", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("pdq_threshold", Integer, nullable=False, default=PDQ_DEFAULT_THRESHOLD),
    Column("video_query_percent", Float, nullable=False, default=DEFAULT_QUERY_MATCH_PERCENT),
    Column("video_compared_percent", Float, nullable=False,
           default=DEFAULT_COMPARED_MATCH_PERCENT),
    # Bumped on every change to the bank's entries: cached indexes carry the generation they
    # were built from and are rebuilt when it moves.
    Column("generation", Integer, nullable=False, default=0),
    # Random per bank, so a bank dropped and created again never reuses a stale cache.
    Column("cache_key", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

bank_entries_table = Table(
    "bank_entries", metadata,
    Column("id", _EntryId, primary_key=True, autoincrement=True),
    Column("bank_id", Integer, ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
    Column("signal_type", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("meta", JSON, nullable=False, default=dict),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Index("ix_bank_entries_bank_type", "bank_id", "signal_type"),
)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def default_url(home: Path) -> str:
    """``sqlite:///<home>/banks.sqlite``."""
    return f"sqlite:///{Path(home).expanduser() / 'banks.sqlite'}"


class BankStore:
    """Create, fill, list and delete banks in one database."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise BankError(f"bad bank database URL {url!r}: {exc}") from None
        self.url = url
        self.sqlite_path: Path | None = None
        in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "",
                                                                                 ":memory:")
        # An in-memory database lives and dies with the process: nothing to cache indexes for.
        self.persistent = not in_memory
        if parsed.get_backend_name() == "sqlite" and parsed.database and not in_memory:
            self.sqlite_path = Path(parsed.database).expanduser()
        self.engine: Engine = make_engine(url)
        try:
            # Tables come from the one schema history (migrations), never a create_all of
            # their own: a bank file made by the CLI is a database the service can open.
            ensure_schema(self.engine, "bank_entries")
        except (SQLAlchemyError, DeepscreenError) as exc:
            raise BankError(f"cannot open bank database {url}: {exc}") from None

    def close(self) -> None:
        self.engine.dispose()

    # --- banks ----------------------------------------------------------------------------

    def create_bank(self, name: str, *, pdq_threshold: int = PDQ_DEFAULT_THRESHOLD,
                    label: str | None = None, description: str = "",
                    video_query_percent: float = DEFAULT_QUERY_MATCH_PERCENT,
                    video_compared_percent: float = DEFAULT_COMPARED_MATCH_PERCENT) -> Bank:
        """Create an empty bank; its label defaults to ``bank:<name>``."""
        if not _NAME_RE.match(name):
            raise BankError(f"bad bank name {name!r}: use 1-64 lower-case letters, digits, "
                            f"'.', '_' or '-', starting with a letter or digit")
        if not 0 <= pdq_threshold <= 128:
            raise BankError(f"PDQ threshold {pdq_threshold} is outside 0..128")
        for percent in (video_query_percent, video_compared_percent):
            if not 0 <= percent <= 100:
                raise BankError(f"video match percent {percent} is outside 0..100")
        row = {"name": name, "label": label or f"bank:{name}", "description": description,
               "pdq_threshold": pdq_threshold, "video_query_percent": video_query_percent,
               "video_compared_percent": video_compared_percent, "generation": 0,
               "cache_key": uuid.uuid4().hex, "created_at": datetime.now(UTC)}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(banks_table).values(**row))
        except IntegrityError:
            raise BankError(f"bank {name!r} already exists") from None
        return self.get_bank(name)

    def get_bank(self, name: str) -> Bank:
        """The bank called ``name``; :class:`BankError` if there is none."""
        for bank in self._banks(banks_table.c.name == name):
            return bank
        known = ", ".join(b.name for b in self.list_banks(counts=False)) or "none yet"
        raise BankError(f"unknown bank {name!r} (banks: {known})")

    def list_banks(self, counts: bool = True) -> list[Bank]:
        """Every bank, by name, with its entry count unless ``counts`` is False.

        Counting reads every entry row, so the matcher, which checks banks per item, skips it.
        """
        return self._banks(counts=counts)

    def _banks(self, *where: Any, counts: bool = True) -> list[Bank]:
        if counts:
            per_bank = (select(bank_entries_table.c.bank_id, func.count().label("n"))
                        .group_by(bank_entries_table.c.bank_id).subquery())
            query = (select(banks_table, func.coalesce(per_bank.c.n, 0).label("entry_count"))
                     .outerjoin(per_bank, per_bank.c.bank_id == banks_table.c.id))
        else:
            query = select(banks_table)
        query = query.where(*where).order_by(banks_table.c.name)
        with self.engine.connect() as conn:
            return [Bank(**row._mapping) for row in conn.execute(query)]

    def remove_bank(self, name: str) -> None:
        bank = self.get_bank(name)
        with self.engine.begin() as conn:
            conn.execute(delete(bank_entries_table).where(bank_entries_table.c.bank_id == bank.id))
            conn.execute(delete(banks_table).where(banks_table.c.id == bank.id))

    # --- entries --------------------------------------------------------------------------

    def add_entries(self, name: str, entries: Iterable[NewEntry], batch: int = 10_000
                    ) -> int:
        """Validate and add entries; returns how many were added. All or nothing."""
        bank = self.get_bank(name)
        now = datetime.now(UTC)
        added = 0
        with self.engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            for entry in entries:
                rows.append({"bank_id": bank.id, "signal_type": entry.signal_type,
                             "value": normalize_value(entry.signal_type, entry.value),
                             "meta": dict(entry.metadata), "added_at": now})
                if len(rows) >= batch:
                    conn.execute(insert(bank_entries_table), rows)
                    added += len(rows)
                    rows = []
            if rows:
                conn.execute(insert(bank_entries_table), rows)
                added += len(rows)
            if added:
                self._bump(conn, bank.id)
        return added

    def remove_entry(self, name: str, entry_id: int) -> None:
        bank = self.get_bank(name)
        with self.engine.begin() as conn:
            result = conn.execute(delete(bank_entries_table).where(
                bank_entries_table.c.bank_id == bank.id, bank_entries_table.c.id == entry_id))
            if result.rowcount == 0:
                raise BankError(f"bank {name!r} has no entry {entry_id}")
            self._bump(conn, bank.id)

    def _bump(self, conn: Any, bank_id: int) -> None:
        conn.execute(update(banks_table).where(banks_table.c.id == bank_id)
                     .values(generation=banks_table.c.generation + 1))

    def entries(self, name: str, signal_type: str | None = None) -> Iterator[BankEntry]:
        """A bank's entries in id order (streamed, so export works on large banks)."""
        bank = self.get_bank(name)
        if signal_type is not None and signal_type not in SIGNAL_TYPES:
            raise BankError(f"unknown signal type {signal_type!r}")
        t = bank_entries_table
        query = select(t).where(t.c.bank_id == bank.id).order_by(t.c.id)
        if signal_type is not None:
            query = query.where(t.c.signal_type == signal_type)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=10_000).execute(query):
                yield _entry(row, bank.name)

    def entries_by_id(self, ids: Sequence[int]) -> dict[int, BankEntry]:
        """Entries by id (with their bank names), for the few a match refers to."""
        if not ids:
            return {}
        t = bank_entries_table
        # No join: SQLite would drive it from the small banks table and walk a whole bank's
        # entries through the (bank_id, signal_type) index instead of the primary key.
        query = select(t).where(t.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            names = dict(conn.execute(select(banks_table.c.id, banks_table.c.name)).all())
            return {row.id: _entry(row, names.get(row.bank_id, "?")) for row in
                    conn.execute(query)}

    def id_values(self, bank: Bank, signal_type: str) -> tuple[list[int], list[str]]:
        """Ids and values of one bank's entries of one type, in id order (for index builds)."""
        t = bank_entries_table
        query = (select(t.c.id, t.c.value)
                 .where(t.c.bank_id == bank.id, t.c.signal_type == signal_type).order_by(t.c.id))
        ids: list[int] = []
        values: list[str] = []
        with self.engine.connect() as conn:
            for entry_id, value in conn.execution_options(yield_per=50_000).execute(query):
                ids.append(entry_id)
                values.append(value)
        return ids, values


def _entry(row: Any, bank: str) -> BankEntry:
    return BankEntry(id=row.id, bank=bank, signal_type=row.signal_type, value=row.value,
                     metadata=dict(row.meta or {}), added_at=row.added_at)
