"""Screening in the service: accept an upload, store what must survive, scan, record.

The promise: when an upload is acknowledged, everything needed to finish it is on disk.
A synchronous scan that holds the item writes its blob and its rows before the response;
a job's blob and its pending row are durable before the 202, and pending jobs are resumed
on startup. Scanning itself is :class:`deepscreen.scan.Scanner`, as everywhere else.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ..config import ScanConfig
from ..errors import DeepscreenError
from ..media import sniff
from ..media.sniff import SNIFF_BYTES
from ..policy import Policy
from ..report import Report
from ..scan import Scanner
from ..store import BlobStore, Database
from ..store import records as rec
from ..store.blobs import BlobTooLarge
from ..store.models import Scan, ScanStatus
from .executors import JobExecutor
from .webhooks import WebhookOutbox

log = logging.getLogger(__name__)

# Kinds that decode slowly (an archive screens every member): always a job, whatever their size.
ASYNC_KINDS = frozenset({"video", "audio", "archive"})


class UploadTooLarge(DeepscreenError):
    """The upload is over the configured size limit (HTTP 413)."""


@dataclass(frozen=True)
class Submission:
    """The answer to an upload: finished (with its report) or accepted as a job."""

    scan_id: str
    status: ScanStatus  # "done" or "pending"
    report: Report | None
    quarantined: bool

    @property
    def verdict(self) -> str | None:
        return None if self.report is None else self.report.action


class ScannerPool:
    """A few scanners shared by request threads; each used by one thread at a time."""

    def __init__(self, factory: Callable[[], Scanner], size: int) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[Scanner] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._all: list[Scanner] = []
        self._lock = threading.Lock()

    @contextmanager
    def scanner(self) -> Iterator[Scanner]:
        with self._slots:
            try:
                scanner = self._idle.get_nowait()
            except queue.Empty:
                scanner = self._factory()
                with self._lock:
                    self._all.append(scanner)
            try:
                yield scanner
            finally:
                self._idle.put(scanner)

    def close(self) -> None:
        with self._lock:
            for scanner in self._all:
                scanner.close()
            self._all.clear()


class ScreeningService:
    """Accepts uploads and runs jobs; the HTTP layer and the job executors both call it.

    ``executor`` runs the jobs (threads here, or Celery workers); ``None`` for a process
    that only runs jobs it is handed (a Celery worker). :meth:`start` binds it.
    """

    def __init__(self, db: Database, blobs: BlobStore, scan_config: ScanConfig, policy: Policy,
                 outbox: WebhookOutbox, *, executor: JobExecutor | None = None,
                 sync_max_bytes: int, max_upload_bytes: int, sync_scanners: int = 2,
                 job_max_attempts: int = 3,
                 on_verdict: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.scan_config = scan_config
        self.policy = policy
        self.outbox = outbox
        self.executor = executor
        self.sync_max_bytes = sync_max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.job_max_attempts = job_max_attempts
        self.scanners = ScannerPool(self.new_scanner, sync_scanners)
        self._on_verdict = on_verdict or (lambda action: None)

    def start(self) -> None:
        """Start the executor, with this service running its jobs."""
        if self.executor is not None:
            self.executor.start(self)

    def stop(self) -> None:
        """Stop taking jobs (queued ones stay pending) and release the scanners."""
        if self.executor is not None:
            self.executor.stop()
        self.scanners.close()

    def new_scanner(self) -> Scanner:
        return Scanner(self.scan_config, self.policy)

    # --- uploads ---------------------------------------------------------------------------

    def submit(self, stream: BinaryIO, filename: str, size: int | None, submitted_by: str,
               callback_url: str | None = None, as_job: bool = False,
               submitted_key_id: str | None = None) -> Submission:
        """Screen an upload now (small images) or store it and queue a job (always a job
        with ``as_job``: a batch is answered once every file is stored, not scanned)."""
        head = stream.read(SNIFF_BYTES)
        stream.seek(0)
        kind = sniff(head).kind if head else "unknown"
        size = self.check_size(stream, size)
        if as_job or kind in ASYNC_KINDS or size > self.sync_max_bytes:
            return self._accept_job(stream, filename, kind, submitted_by, callback_url,
                                    submitted_key_id)
        return self._scan_now(stream.read(), filename, submitted_by, callback_url,
                              submitted_key_id)

    def check_size(self, stream: BinaryIO, size: int | None) -> int:
        """The upload's size (measured when the client did not declare it); raises
        :class:`UploadTooLarge` over the limit."""
        if size is None:
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(0)
        if size > self.max_upload_bytes:
            raise UploadTooLarge(f"upload is {size:,} bytes, over the limit of "
                                 f"{self.max_upload_bytes:,}")
        return size

    def _scan_now(self, data: bytes, filename: str, submitted_by: str,
                  callback_url: str | None, submitted_key_id: str | None) -> Submission:
        with self.scanners.scanner() as scanner:
            report = scanner.scan(data, name=filename)
        action = report.action
        staged = self.blobs.stage(io.BytesIO(data)) if action in rec.HELD_ACTIONS else None
        try:
            with self.db.session() as session:
                if staged is not None:
                    rec.lock_blob(session, staged.blob.key)
                scan = rec.add_scan(session, sha256=report.item.sha256, md5=report.item.md5,
                                    source_name=filename, kind=report.item.kind, size=len(data),
                                    status="pending", submitted_by=submitted_by,
                                    submitted_key_id=submitted_key_id,
                                    blob_key=staged.blob.key if staged else None,
                                    callback_url=callback_url)
                entry = rec.complete_scan(session, scan, report)
                self.outbox.enqueue(session, scan, report)
                if staged is not None:
                    staged.commit()  # durable before the rows are, and both before the answer
        finally:
            if staged is not None:
                staged.discard()
        self.outbox.notify()
        self._on_verdict(action)
        log.info("scan finished", extra={"scan_id": scan.id, "verdict": action, "mode": "sync",
                                         "kind": scan.kind, "held": entry is not None,
                                         "scan_ms": round(report.elapsed_ms, 3)})
        return Submission(scan_id=scan.id, status="done", report=report,
                          quarantined=entry is not None)

    def _accept_job(self, stream: BinaryIO, filename: str, kind: str, submitted_by: str,
                    callback_url: str | None, submitted_key_id: str | None) -> Submission:
        try:
            staged = self.blobs.stage(stream, max_bytes=self.max_upload_bytes)
        except BlobTooLarge as exc:
            raise UploadTooLarge(str(exc)) from exc
        blob = staged.blob
        try:
            with self.db.session() as session:
                rec.lock_blob(session, blob.key)
                scan = rec.add_scan(session, sha256=blob.key, md5=blob.md5,
                                    source_name=filename, kind=kind, size=blob.size,
                                    status="pending", submitted_by=submitted_by,
                                    submitted_key_id=submitted_key_id,
                                    blob_key=blob.key, callback_url=callback_url)
                staged.commit()
        finally:
            staged.discard()
        if self.executor is not None:
            self.executor.submit(scan.id)
        log.info("scan accepted as a job", extra={"scan_id": scan.id, "kind": kind,
                                                  "size": blob.size})
        return Submission(scan_id=scan.id, status="pending", report=None, quarantined=False)

    # --- jobs ------------------------------------------------------------------------------

    def process(self, scan_id: str, scanner: Scanner) -> None:
        """Finish one pending scan; safe to call twice (a finished scan is left alone)."""
        with self.db.session() as session:
            scan = session.get(Scan, scan_id)
            if scan is None or scan.status != "pending":
                return
            scan.attempts += 1
            attempts, blob_key, name = scan.attempts, scan.blob_key, scan.source_name
        if attempts > self.job_max_attempts:
            # Every earlier attempt died with the process: this item may be what kills it.
            self._fail(scan_id, f"gave up after {attempts - 1} attempts that did not finish")
            return
        try:
            if blob_key is None:
                raise DeepscreenError("the scan's blob key is missing")
            report = scanner.scan(self.blobs.path(blob_key), name=name)
        except Exception as exc:
            log.exception("scan %s failed", scan_id)
            # Clients see the error: never where the service keeps its files.
            self._fail(scan_id, f"{type(exc).__name__}: {exc}".replace(str(self.blobs.root),
                                                                        "<storage>"))
            return
        with self.db.session() as session:
            rec.lock_blob(session, blob_key)
            scan = session.get(Scan, scan_id)
            if scan is None or scan.status != "pending":
                return
            entry = rec.complete_scan(session, scan, report)
            self.outbox.enqueue(session, scan, report)
            if entry is None and not rec.blob_in_use(session, blob_key):
                # Inside the locked transaction: no upload of the same bytes can slip between
                # the check and the delete. (Should the commit then fail, the job is retried,
                # finds no blob and is held for review as failed: never silently allowed.)
                self.blobs.delete(blob_key)
        self.outbox.notify()
        self._on_verdict(report.action)
        log.info("scan finished", extra={"scan_id": scan_id, "mode": "job",
                                         "verdict": report.action, "held": entry is not None,
                                         "attempt": attempts,
                                         "scan_ms": round(report.elapsed_ms, 3)})

    def _fail(self, scan_id: str, error: str) -> None:
        with self.db.session() as session:
            scan = session.get(Scan, scan_id)
            if scan is None or scan.status != "pending":
                return
            rec.fail_scan(session, scan, error)
            self.outbox.enqueue(session, scan, None)
        log.warning("scan failed; held for review", extra={"scan_id": scan_id, "error": error})
        self.outbox.notify()
        self._on_verdict("quarantine")

    def resume_pending(self) -> int:
        """Queue every scan left pending (by a crash or a restart); returns how many."""
        with self.db.session() as session:
            pending = rec.pending_scan_ids(session)
        if self.executor is not None:
            for scan_id in pending:
                self.executor.submit(scan_id)
        return len(pending)

    def release_blob(self, blob_key: str) -> bool:
        """Delete a blob unless a pending scan or an unreleased entry still needs it."""
        with self.db.session() as session:
            rec.lock_blob(session, blob_key)
            if rec.blob_in_use(session, blob_key):
                return False
            return self.blobs.delete(blob_key)

