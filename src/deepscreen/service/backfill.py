"""Backfill: screen a whole archive through the service's store without starving uploads.

Each file is stored and recorded exactly as an upload that becomes a job (durable blob,
pending scan row), then queued on the *backfill* lane:

- with ``DEEPSCREEN_BROKER_URL`` set, on the Celery backfill queue, which workers take only
  when the live queue is empty (see :mod:`deepscreen.service.celery_app`);
- without a broker, on threads in this (niced) process: a separate, lower-priority lane that
  never takes a thread or a CPU time slice from the service's own upload workers.

Back-pressure: at most ``max_in_flight`` of this backfill's scans are pending at any time;
the submitter waits for workers to finish some before storing more, so an archive of a
million files never becomes a million queued jobs (or a full disk of pending blobs).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, select

from ..errors import DeepscreenError
from ..store.models import Scan
from .screening import ScreeningService, UploadTooLarge
from .settings import ServiceSettings
from .wiring import build_screening, make_executor, open_database

log = logging.getLogger(__name__)

DEFAULT_ACTOR = "backfill"
# Lower CPU priority for an in-process backfill, so uploads on the same host come first.
BACKFILL_NICE = 10


@dataclass
class BackfillProgress:
    """Counts so far; ``skipped`` holds (path, why) for files that were not submitted."""

    submitted: int = 0
    already_screened: int = 0  # files whose bytes the store has screened or queued before
    skipped: list[tuple[str, str]] = field(default_factory=list)
    waits: int = 0  # times the submitter paused because max_in_flight were pending
    max_in_flight_seen: int = 0


class Backfill:
    """Submits files as backfill jobs, never more than ``max_in_flight`` pending at once."""

    def __init__(self, service: ScreeningService, *, max_in_flight: int = 16,
                 actor: str = DEFAULT_ACTOR, poll_s: float = 0.25, skip_known: bool = True,
                 on_submit: Callable[[Path, str], None] | None = None,
                 on_wait: Callable[[int], None] | None = None) -> None:
        if max_in_flight < 1:
            raise DeepscreenError("max_in_flight must be at least 1")
        if service.executor is None:
            raise DeepscreenError("a backfill needs a job executor on its service")
        self.service = service
        self.max_in_flight = max_in_flight
        self.actor = actor
        self.poll_s = poll_s
        self.skip_known = skip_known
        self.progress = BackfillProgress()
        self._on_submit = on_submit or (lambda path, scan_id: None)
        self._on_wait = on_wait or (lambda pending: None)

    def in_flight(self) -> int:
        """This backfill's scans still pending (queued or running)."""
        with self.service.db.session() as session:
            return session.scalar(select(func.count()).select_from(Scan).where(
                Scan.status == "pending", Scan.submitted_by == self.actor)) or 0

    def run(self, files: Iterable[Path], root: Path | None = None) -> BackfillProgress:
        """Store and queue every file; returns when the last one is queued (not finished)."""
        for path in files:
            self._wait_for_capacity()
            name = str(path.relative_to(root)) if root is not None else path.name
            try:
                with path.open("rb") as stream:
                    # A re-run after an interruption resumes: bytes already screened (or
                    # queued) are not stored and screened again.
                    if self.skip_known and self._known(_sha256(stream)):
                        self.progress.already_screened += 1
                        continue
                    size = os.fstat(stream.fileno()).st_size
                    result = self.service.submit(stream, name, size, submitted_by=self.actor)
            except (OSError, UploadTooLarge) as exc:
                self.progress.skipped.append((str(path), str(exc)))
                log.warning("backfill skipped %s: %s", path, exc)
                continue
            self.progress.submitted += 1
            self._on_submit(path, result.scan_id)
        return self.progress

    def wait_done(self, timeout_s: float | None = None) -> bool:
        """Wait until none of this backfill's scans is pending; ``False`` on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.in_flight():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(self.poll_s)
        return True

    def _known(self, sha256: str) -> bool:
        with self.service.db.session() as session:
            return session.scalar(select(Scan.id).where(
                Scan.sha256 == sha256, Scan.status.in_(("pending", "done"))).limit(1)) is not None

    def _wait_for_capacity(self) -> None:
        pending = self.in_flight()
        self.progress.max_in_flight_seen = max(self.progress.max_in_flight_seen, pending)
        if pending < self.max_in_flight:
            return
        self.progress.waits += 1
        while pending >= self.max_in_flight:
            self._on_wait(pending)
            time.sleep(self.poll_s)
            pending = self.in_flight()


def backfill_service(settings: ServiceSettings, workers: int = 1) -> ScreeningService:
    """A started screening service over the configured store whose jobs go to the backfill
    lane.

    Every file becomes a job (no synchronous scans in the submitter). With a broker the jobs
    go to the Celery backfill queue; without one, to ``workers`` threads in this process,
    which is made nicer so that a service on the same host keeps its CPU for uploads.
    """
    executor = make_executor(settings, lane="backfill", workers=workers)
    if executor.runs_here:
        _lower_priority()
    # The first user of a fresh store may be a backfill: it migrates as the service would.
    service = build_screening(replace(settings, sync_max_bytes=0), open_database(settings),
                              executor=executor)
    service.start()
    return service


def _sha256(stream: BinaryIO) -> str:
    """The stream's SHA-256, read in chunks; the stream is left at its start."""
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _lower_priority() -> None:
    try:
        os.nice(BACKFILL_NICE)
    except OSError:  # not permitted here; the lane is still separate, just not nicer
        log.info("could not lower the backfill's CPU priority")
