"""Scale-out with real Celery workers over a real broker: jobs spread, survive SIGKILL, run once.

Redis on 127.0.0.1:6379 for all of them, and RabbitMQ on 127.0.0.1:5672 for the SIGKILL test
as well; each is skipped, with the reason, only when its broker does not answer.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from celery_harness import scale_out_env, wait_until
from deepscreen.service import celery_app
from deepscreen.service.celery_app import scan_job
from deepscreen.service.screening import ScreeningService
from deepscreen.service.settings import ServiceSettings
from deepscreen.service.wiring import build_screening, make_executor, open_database
from deepscreen.store import AuditEvent, Scan

from media_factory import video_bytes

pytestmark = pytest.mark.slow


def _service() -> ScreeningService:
    """The upload side, as the API process builds it, queueing on the test's broker."""
    settings = ServiceSettings.from_env()
    service = build_screening(settings, open_database(settings, migrate=True),
                              executor=make_executor(settings))
    service.start()
    return service


def _submit_video(service: ScreeningService, seed: int, **video: object) -> str:
    data = video_bytes(seed=seed, **video)  # type: ignore[arg-type]
    result = service.submit(io.BytesIO(data), f"clip-{seed}.mp4", len(data), submitted_by="tester")
    assert result.status == "pending"  # video always becomes a job
    return result.scan_id


def _statuses(service: ScreeningService, ids: list[str]) -> dict[str, str]:
    with service.db.session() as session:
        return {s.id: s.status for s in session.scalars(select(Scan).where(Scan.id.in_(ids)))}


def _attempts(service: ScreeningService, scan_id: str) -> int:
    with service.db.session() as session:
        return session.get(Scan, scan_id).attempts


def _events(service: ScreeningService, action: str, scan_id: str | None = None
            ) -> list[tuple[str, str]]:
    """(actor, subject) of every audit event with ``action``, in the order written."""
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    if scan_id is not None:
        query = query.where(AuditEvent.subject == f"scan:{scan_id}")
    with service.db.session() as session:
        return [(e.actor, e.subject) for e in session.scalars(query)]


def test_jobs_spread_over_two_workers_and_finish(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with scale_out_env(tmp_path, monkeypatch) as (_env, workers):
        service = _service()
        workers.start("w1@test")
        workers.start("w2@test")
        ids = [_submit_video(service, seed) for seed in range(8)]

        wait_until(lambda: set(_statuses(service, ids).values()) == {"done"}, 120,
                   "all 8 jobs to finish")

        runs = _events(service, "job.run")
        ran_on = {actor for actor, _ in runs}
        assert ran_on == {"worker:w1@test", "worker:w2@test"}, runs
        # Each job ran and was recorded exactly once.
        assert sorted(subject for _, subject in runs) == sorted(f"scan:{i}" for i in ids)
        assert len(_events(service, "scan.complete")) == len(ids)
        with service.db.session() as session:
            reports = [s.report for s in session.scalars(select(Scan).where(Scan.id.in_(ids)))]
        assert all(r["schema"] == "deepscreen.report/1" and r["item"]["kind"] == "video"
                   for r in reports)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_job_of_a_killed_worker_is_redelivered_and_finished_by_the_other(
        broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten sampled frames per second of a 30 s clip: a job that lasts long enough to be
    # killed in the middle of, on any machine.
    config = tmp_path / "scan.yaml"
    config.write_text("limits:\n  frame_interval_s: 0.1\n")
    with scale_out_env(tmp_path, monkeypatch, {"DEEPSCREEN_CONFIG": str(config)},
                       broker=broker) as (_env, workers):
        service = _service()
        procs = {"worker:w1@test": workers.start("w1@test"),
                 "worker:w2@test": workers.start("w2@test")}
        scan_id = _submit_video(service, 1, seconds=30.0, width=480, height=360)

        wait_until(lambda: _attempts(service, scan_id) == 1, 60, "the job to start scanning")
        first_actor = _events(service, "job.run", scan_id)[0][0]
        victim = procs.pop(first_actor)
        os.kill(victim.pid, signal.SIGKILL)  # mid-job: the scan takes seconds
        assert victim.wait(10) == -signal.SIGKILL
        assert _statuses(service, [scan_id])[scan_id] == "pending"

        wait_until(lambda: _statuses(service, [scan_id])[scan_id] == "done", 120,
                   "the job to be redelivered and finished")

        (survivor,) = procs
        assert [actor for actor, _ in _events(service, "job.run", scan_id)] == [
            first_actor, survivor]
        assert _events(service, "scan.complete", scan_id) == [("service", f"scan:{scan_id}")]
        with service.db.session() as session:
            scan = session.get(Scan, scan_id)
            assert scan.attempts == 2
            assert scan.report["item"]["duration_s"] >= 29


def test_worker_command_needs_a_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSCREEN_")}
    done = subprocess.run([sys.executable, "-m", "deepscreen", "worker"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "set DEEPSCREEN_BROKER_URL" in done.stderr


def test_redelivered_job_of_a_finished_scan_does_nothing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with scale_out_env(tmp_path, monkeypatch) as (_env, workers):
        service = _service()
        workers.start("w1@test")
        scan_id = _submit_video(service, 3)
        wait_until(lambda: _statuses(service, [scan_id])[scan_id] == "done", 60, "the job")
        audit_before = _events(service, "job.run") + _events(service, "scan.complete")

        # The task body as a worker runs it for a duplicate message (run here, in-process;
        # the process-wide worker state is reset afterwards by monkeypatch).
        monkeypatch.setattr(celery_app, "_state", None)
        assert scan_job.run(scan_id) == "done"

        assert _events(service, "job.run") + _events(service, "scan.complete") == audit_before
        with service.db.session() as session:
            assert session.get(Scan, scan_id).attempts == 1
