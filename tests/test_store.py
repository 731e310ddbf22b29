"""Service storage on SQLite and PostgreSQL: migrations, records, audit log, API keys, blobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from deepscreen.findings import Finding
from deepscreen.media import ItemInfo
from deepscreen.policy import Verdict
from deepscreen.report import Report
from deepscreen.store import BlobStore, Database, audit, default_database_url, keys, records
from deepscreen.store.blobs import BlobError
from deepscreen.store.db import current_revision
from deepscreen.store.models import AuditEvent, Scan
from deepscreen.store.schema import all_metadata

from postgres_schema import (
    fresh_postgres_schema,
    postgres_unavailable_reason,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each backend (PostgreSQL: a throwaway schema)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'service.sqlite'}")
        db.upgrade()
        yield db
        db.dispose()
        return
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_schema() as url:
        db = Database(url)
        db.upgrade()
        yield db
        db.dispose()


def _pending_scan(db: Database, sha: str = "a" * 64, kind: str = "image") -> str:
    with db.session() as session:
        scan = records.add_scan(session, sha256=sha, md5=None, source_name="x.jpg", kind=kind,
                                size=10, status="pending", submitted_by="k1", blob_key=sha)
        return scan.id


def _report(action: str, labels: list[str]) -> Report:
    findings = [Finding(signal="test", version="1", labels=tuple(labels))] if labels else []
    return Report(item=ItemInfo("x.jpg", "image", "jpeg", "image/jpeg", 10, "a" * 64, ""),
                  findings=tuple(findings), verdict=Verdict(action), policy="default",
                  elapsed_ms=1.0)


def test_default_url_is_sqlite_in_home(tmp_path: Path) -> None:
    from deepscreen.service.settings import ServiceSettings

    assert default_database_url(tmp_path) == f"sqlite:///{tmp_path / 'service.sqlite'}"
    env = {"DEEPSCREEN_HOME": str(tmp_path)}
    assert ServiceSettings.from_env(env).resolved_database_url() == default_database_url(tmp_path)
    env["DEEPSCREEN_DATABASE_URL"] = "postgresql://db/x"
    assert ServiceSettings.from_env(env).resolved_database_url() == "postgresql://db/x"


def test_migrations_match_models_and_are_idempotent(database: Database) -> None:
    assert current_revision(database.engine) is not None
    database.upgrade()  # a second run is a no-op, not an error
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, all_metadata())
    assert diff == [], f"models and migrations disagree: {diff}"


def test_scan_lifecycle_quarantine_and_review(database: Database) -> None:
    scan_id = _pending_scan(database)
    with database.session() as session:
        assert records.pending_scan_ids(session) == [scan_id]
        assert records.blob_in_use(session, "a" * 64)
        entry = records.complete_scan(session, session.get(Scan, scan_id),
                                      _report("block", ["bank-match", "bank:ncii"]))
        assert entry is not None and entry.state == "held"
    with database.session() as session:
        assert records.pending_scan_ids(session) == []
        assert records.blob_in_use(session, "a" * 64)  # held in quarantine
        page = records.review_queue(session, label="bank:ncii")
        assert page.total == 1 and page.entries[0][1].id == scan_id
        assert records.review_queue(session, label="bank:%").total == 0  # literal, not a glob
        assert records.review_queue(session, kind="video").total == 0
        assert records.review_queue(session, action="block").total == 1
        entry = records.find_entry(session, scan_id)
        with pytest.raises(records.ReviewError, match="reason"):
            records.decide(session, entry, decision="release", reviewer="ann",
                           reviewer_key_id="k2", reason="  ")
        records.decide(session, entry, decision="release", reviewer="ann", reviewer_key_id="k2",
                       reason="a holiday photo")
    with database.session() as session:
        assert not records.blob_in_use(session, "a" * 64)
        assert records.review_queue(session, state="released").total == 1
        entry = records.find_entry(session, scan_id)
        with pytest.raises(records.ReviewError, match="already released"):
            records.decide(session, entry, decision="escalate", reviewer="ann",
                           reviewer_key_id="k2", reason="changed my mind")
        actions = [e.action for e in audit.events(session)]
    assert actions == ["scan.submit", "scan.complete", "quarantine.hold", "review.release"]


def test_allowed_scan_drops_its_blob_reference(database: Database) -> None:
    scan_id = _pending_scan(database, sha="b" * 64)
    with database.session() as session:
        scan = session.get(Scan, scan_id)
        assert records.complete_scan(session, scan, _report("allow", [])) is None
        assert scan.blob_key is None
    with database.session() as session:
        assert not records.blob_in_use(session, "b" * 64)
        assert session.get(Scan, scan_id).report["verdict"]["action"] == "allow"


def test_failed_scan_is_held_not_allowed(database: Database) -> None:
    scan_id = _pending_scan(database, sha="c" * 64)
    with database.session() as session:
        entry = records.fail_scan(session, session.get(Scan, scan_id), "worker crashed")
        assert entry is not None and entry.action == "quarantine"
    with database.session() as session:
        scan = session.get(Scan, scan_id)
        assert scan.status == "failed" and scan.verdict == "quarantine"


def test_audit_log_is_append_only_in_orm_and_database(database: Database) -> None:
    with database.session() as session:
        audit.record(session, "ann", "test.event", "thing:1", {"n": 1})
    with pytest.raises(audit.AuditLogError), database.session() as session:
        session.query(AuditEvent).first().actor = "mallory"
    with pytest.raises(audit.AuditLogError), database.session() as session:
        session.delete(session.query(AuditEvent).first())
    # Raw SQL bypasses the ORM; the database's trigger still refuses.
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(statement))
    with database.session() as session:
        (event,) = audit.events(session)
        assert event.actor == "ann" and event.details == {"n": 1}
        assert event.at.tzinfo is not None
        assert '"action": "test.event"' in audit.to_json_line(event)


def test_audit_events_since_and_after_id(database: Database) -> None:
    with database.session() as session:
        for n in range(3):
            audit.record(session, "svc", "tick", f"n:{n}")
    with database.session() as session:
        everything = list(audit.events(session))
        later = list(audit.events(session, after_id=everything[0].id))
        since = list(audit.events(session, since=everything[0].at))
    assert [e.subject for e in later] == ["n:1", "n:2"]
    assert len(since) == 3


def test_api_keys_are_hashed_and_revocable(database: Database) -> None:
    with database.session() as session:
        plaintext, row = keys.create_key(session, "ann", "reviewer")
        assert plaintext not in (row.key_hash, row.salt) and plaintext.startswith("dsk_")
        with pytest.raises(keys.ApiKeyError, match="role"):
            keys.create_key(session, "bob", "superuser")
    with database.session() as session:
        principal = keys.authenticate(session, plaintext)
        assert principal is not None and principal.name == "ann" and principal.role == "reviewer"
        assert principal.can("submitter") and principal.can("reviewer")
        assert not principal.can("admin")
        assert keys.authenticate(session, plaintext[:-1] + "x") is None
        assert keys.authenticate(session, "not-a-key") is None
        keys.revoke_key(session, row.id)
    with database.session() as session:
        assert keys.authenticate(session, plaintext) is None
        stored = {k.key_hash for k in keys.list_keys(session)}
        assert all(plaintext.split("_", 2)[2] not in h for h in stored)


def test_blob_store_is_content_addressed(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    stored = blobs.put_bytes(b"hello quarantine")
    import hashlib

    assert stored.key == hashlib.sha256(b"hello quarantine").hexdigest()
    assert stored.md5 == hashlib.md5(b"hello quarantine").hexdigest()
    assert blobs.path(stored.key).read_bytes() == b"hello quarantine"
    assert blobs.put_bytes(b"hello quarantine").key == stored.key  # idempotent
    assert blobs.stored_keys() == [stored.key]
    assert list((tmp_path / "blobs" / "incoming").iterdir()) == []  # no temp file left
    assert blobs.delete(stored.key) and not blobs.exists(stored.key)
    assert not blobs.delete(stored.key)
    with pytest.raises(BlobError, match="not a blob key"):
        blobs.path("../../etc/passwd")


def test_blob_store_refuses_oversized_stream_and_keeps_nothing(tmp_path: Path) -> None:
    import io

    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobError, match="more than 10 bytes"):
        blobs.put_stream(io.BytesIO(b"x" * 11), max_bytes=10)
    assert blobs.stored_keys() == []
    assert list((tmp_path / "blobs" / "incoming").iterdir()) == []


def test_clean_incoming_removes_every_abandoned_upload_but_not_one_being_written(
        tmp_path: Path) -> None:
    import io

    blobs = BlobStore(tmp_path / "blobs")
    incoming = tmp_path / "blobs" / "incoming"
    crashed = incoming / "upload-crashed.part"  # left by a process that died: no lock
    crashed.write_bytes(b"partial")  # brand new: age does not matter
    live = blobs.stage(io.BytesIO(b"being written"))  # holds its lock until commit
    assert blobs.clean_incoming() == 1
    assert not crashed.exists()
    assert len(list(incoming.iterdir())) == 1  # the live upload's file is untouched
    stored = live.commit()
    assert blobs.exists(stored.key) and list(incoming.iterdir()) == []
    assert blobs.clean_incoming() == 0


def test_sqlite_database_is_created_private(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'service.sqlite'}")
    db.upgrade()
    assert (tmp_path / "service.sqlite").stat().st_mode & 0o777 == 0o600
    for extra in tmp_path.glob("service.sqlite-*"):  # WAL and shared-memory files
        assert extra.stat().st_mode & 0o777 == 0o600, extra
    db.dispose()


def test_upgrade_adopts_bank_tables_the_banks_package_created(tmp_path: Path) -> None:
    from deepscreen.banks import BankStore, NewEntry

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    banks = BankStore(url)  # creates its tables itself, as the CLI does
    banks.create_bank("ncii")
    banks.add_entries("ncii", [NewEntry("md5", "a" * 32)])
    banks.close()
    db = Database(url)
    db.upgrade()
    assert current_revision(db.engine) == "0003"
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM bank_entries")).scalar() == 1
    db.dispose()


def test_migrations_without_a_connection_or_url_say_how_to_migrate() -> None:
    from alembic import command

    from deepscreen.database import alembic_config

    with pytest.raises(RuntimeError, match=r"sqlalchemy\.url is not set.*deepscreen db upgrade"):
        command.upgrade(alembic_config(), "head")


def test_migrations_downgrade_to_nothing_and_back(database: Database) -> None:
    from alembic import command

    from deepscreen.database import alembic_config

    def tables() -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(database.engine).get_table_names())

    with database.engine.begin() as connection:
        config = alembic_config(database.engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert tables() <= {"alembic_version"}
    database.upgrade()
    assert {"scans", "quarantine", "audit_log", "banks", "bank_entries"} <= tables()
