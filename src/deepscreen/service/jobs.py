"""Job execution behind one small interface: in-process threads now, a queue broker later.

A job is only a scan id: the scan row (status ``pending``) and its blob are already durable
when a job is submitted, so an executor may lose its queue (a crash, a restart) without
losing work; the service resubmits every pending scan on startup.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

from ..scan import Scanner

log = logging.getLogger(__name__)

JobHandler = Callable[[str, Scanner], None]
ScannerFactory = Callable[[], Scanner]


class JobExecutor(ABC):
    """Runs ``handler(scan_id, scanner)`` for submitted scan ids, somewhere."""

    @abstractmethod
    def start(self) -> None:
        """Begin taking jobs."""

    @abstractmethod
    def submit(self, scan_id: str) -> None:
        """Queue one job; must not block the request that calls it."""

    @abstractmethod
    def depth(self) -> int:
        """Jobs queued or running (for the queue-depth metric)."""

    @abstractmethod
    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the running jobs and stop; queued ones stay pending in the database."""


class InProcessExecutor(JobExecutor):
    """Worker threads in the service process, each with its own :class:`Scanner`.

    Scanners are not thread-safe (signals hold model sessions), so each thread builds one
    and keeps it. ``workers=0`` accepts jobs but runs none: the scans stay pending for
    another process (or the next start) to pick up.
    """

    _STOP = ""

    def __init__(self, handler: JobHandler, scanner_factory: ScannerFactory,
                 workers: int = 1) -> None:
        self._handler = handler
        self._scanner_factory = scanner_factory
        self._workers = workers
        self._queue: queue.Queue[str] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._queued: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"deepscreen-job-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, scan_id: str) -> None:
        with self._lock:
            if scan_id in self._queued:  # resubmitted on resume while still queued
                return
            self._queued.add(scan_id)
        self._queue.put(scan_id)

    def depth(self) -> int:
        with self._lock:
            return len(self._queued)

    def stop(self, timeout_s: float = 10.0) -> None:
        for _ in self._threads:
            self._queue.put(self._STOP)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def _work(self) -> None:
        scanner: Scanner | None = None
        try:
            while True:
                scan_id = self._queue.get()
                if scan_id == self._STOP:
                    return
                try:
                    if scanner is None:
                        scanner = self._scanner_factory()
                    self._handler(scan_id, scanner)
                except Exception:  # one bad job must not kill the worker
                    log.exception("job %s failed", scan_id)
                finally:
                    with self._lock:
                        self._queued.discard(scan_id)
        finally:
            if scanner is not None:
                scanner.close()
