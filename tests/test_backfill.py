"""Backfill: archives go to a lower-priority lane with bounded in-flight jobs.

The Celery tests need a Redis on 127.0.0.1:6379 (skipped with the reason otherwise); the
in-process lane needs nothing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from celery_harness import scale_out_env, wait_until
from deepscreen.service.backfill import Backfill, backfill_service
from deepscreen.service.screening import ScreeningService
from deepscreen.service.settings import ServiceSettings
from deepscreen.service.wiring import build_screening, make_executor, open_database
from deepscreen.store import AuditEvent, Database, Scan

from media_factory import image_bytes, video_bytes

pytestmark = pytest.mark.slow


def _archive(folder: Path, videos: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(videos):
        path = folder / f"old-{seed:02d}.mp4"
        path.write_bytes(video_bytes(seed=100 + seed, seconds=2.0))
        paths.append(path)
    return paths


def _live_service() -> ScreeningService:
    settings = ServiceSettings.from_env()
    return build_screening(settings, open_database(settings, migrate=True),
                           executor=make_executor(settings, lane="live"))


def _completion_order(db: Database) -> list[str]:
    """Scan ids in the order their results were committed."""
    with db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "scan.complete")
                                 .order_by(AuditEvent.id))
        return [e.subject.removeprefix("scan:") for e in events]


def _pending(db: Database) -> int:
    with db.session() as session:
        return len(list(session.scalars(select(Scan.id).where(Scan.status == "pending"))))


def test_uploads_queued_after_a_backfill_are_screened_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with scale_out_env(tmp_path, monkeypatch) as (_env, workers):
        live = _live_service()
        old = backfill_service(ServiceSettings.from_env())
        backfill = Backfill(old, max_in_flight=100)
        backfill.run(_archive(tmp_path / "archive", 10))
        uploads = []
        for seed in range(3):  # uploads arrive while the whole archive is queued
            data = video_bytes(seed=seed, seconds=2.0)
            uploads.append(live.submit(io.BytesIO(data), f"upload-{seed}.mp4", len(data),
                                       submitted_by="platform").scan_id)
        assert _pending(live.db) == 13

        # One worker started through the CLI, taking both lanes: it must empty live first.
        workers.start("w1@test", command=[sys.executable, "-m", "deepscreen", "worker",
                                          "--pool", "solo", "--hostname", "w1@test"])
        wait_until(lambda: _pending(live.db) == 0, 180, "all 13 jobs to finish")

        order = _completion_order(live.db)
        assert len(order) == 13
        assert set(order[:3]) == set(uploads), order


def test_backfill_never_has_more_than_max_in_flight_pending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with scale_out_env(tmp_path, monkeypatch) as (_env, workers):
        service = backfill_service(ServiceSettings.from_env())
        backfill = Backfill(service, max_in_flight=3, poll_s=0.05)
        files = _archive(tmp_path / "archive", 8)
        submitter = threading.Thread(target=backfill.run, args=(files,), daemon=True)
        submitter.start()

        # No worker yet: the submitter stores three jobs and then waits for capacity.
        wait_until(lambda: backfill.in_flight() == 3, 30, "three pending jobs")
        time.sleep(1.0)
        assert backfill.in_flight() == 3 and backfill.progress.submitted == 3
        assert submitter.is_alive()

        workers.start("w1@test")
        submitter.join(120)
        assert not submitter.is_alive()
        assert backfill.wait_done(120)
        assert backfill.progress.submitted == 8 and backfill.progress.max_in_flight_seen <= 3
        assert backfill.progress.waits >= 1
        with service.db.session() as session:
            scans = list(session.scalars(select(Scan).where(Scan.submitted_by == "backfill")))
        assert sorted(s.source_name for s in scans) == sorted(p.name for p in files)
        assert {s.status for s in scans} == {"done"}


def test_submit_command_runs_the_backfill_in_process_without_a_broker(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    for seed in range(4):
        (archive / f"photo-{seed}.jpg").write_bytes(image_bytes("jpeg", seed=seed))
    (archive / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSCREEN_")}
    env.update(DEEPSCREEN_HOME=str(home), DEEPSCREEN_LOG_JSON="0")

    done = subprocess.run([sys.executable, "-m", "deepscreen", "submit", str(archive),
                           "--max-in-flight", "2", "--as", "archive-2019"],
                          env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "submitted 5 file(s), skipped 0, already screened 0" in done.stderr
    assert "every submitted job has finished" in done.stderr
    db = Database(f"sqlite:///{home / 'service.sqlite'}")
    with db.session() as session:
        scans = {s.source_name: s for s in session.scalars(select(Scan))}
    assert set(scans) == {"photo-0.jpg", "photo-1.jpg", "photo-2.jpg", "photo-3.jpg",
                          os.path.join("sub", "broken.jpg")}
    assert all(s.submitted_by == "archive-2019" for s in scans.values())
    assert {s.status for s in scans.values()} == {"done"}
    # Never silently allowed: the broken file is held for a person.
    assert scans[os.path.join("sub", "broken.jpg")].verdict == "quarantine"
    assert {scans[f"photo-{i}.jpg"].verdict for i in range(4)} == {"allow"}

    # Run again after one new file arrives: only the new one is screened (a resumed run).
    (archive / "photo-new.jpg").write_bytes(image_bytes("jpeg", seed=99))
    again = subprocess.run([sys.executable, "-m", "deepscreen", "submit", str(archive),
                            "--as", "archive-2019"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "submitted 1 file(s), skipped 0, already screened 5" in again.stderr
    with db.session() as session:
        assert len(list(session.scalars(select(Scan)))) == 6


def test_submit_command_refuses_a_missing_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSCREEN_")}
    env["DEEPSCREEN_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "deepscreen", "submit",
                           str(tmp_path / "nowhere")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "no such file or folder" in done.stderr
