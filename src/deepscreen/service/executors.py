"""Where scan jobs run, behind one small interface: threads here, or Celery workers elsewhere.

A job is only a scan id: the scan row (status ``pending``) and its blob are already durable
when a job is submitted, so an executor may lose its queue (a crash, a restart) without
losing work; the service resubmits every pending scan on start.

An executor is built on its own and handed to :class:`~deepscreen.service.screening.ScreeningService`
(as httpx takes ``Client(transport=...)``); the service binds itself as the executor's
:class:`JobRunner` when it starts.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Protocol

from ..errors import DeepscreenError
from ..scan import Scanner

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    """What runs a job: the screening service."""

    def process(self, scan_id: str, scanner: Scanner) -> None: ...

    def new_scanner(self) -> Scanner: ...


class JobExecutor(ABC):
    """Runs the jobs of submitted scan ids, somewhere."""

    @abstractmethod
    def start(self, runner: JobRunner) -> None:
        """Begin taking jobs, run by ``runner`` (where they run here)."""

    @abstractmethod
    def submit(self, scan_id: str) -> None:
        """Queue one job; must not block the request that calls it."""

    @abstractmethod
    def depth(self) -> int:
        """Jobs queued or running (for the queue-depth metric)."""

    @abstractmethod
    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the running jobs and stop; queued ones stay pending in the database."""

    @property
    def runs_here(self) -> bool:
        """Whether jobs run in this process (so waiting for them means running them)."""
        return True


class InProcessExecutor(JobExecutor):
    """Worker threads in this process, each with its own :class:`Scanner`.

    Scanners are not thread-safe (signals hold model sessions), so each thread builds one
    and keeps it. ``workers=0`` accepts jobs but runs none: the scans stay pending for
    another process (or the next start) to pick up.
    """

    _STOP = ""

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._queue: queue.Queue[str] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._queued: set[str] = set()
        self._lock = threading.Lock()

    def start(self, runner: JobRunner) -> None:
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, args=(runner,),
                                      name=f"deepscreen-job-{n}", daemon=True)
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

    def _work(self, runner: JobRunner) -> None:
        scanner: Scanner | None = None
        try:
            while True:
                scan_id = self._queue.get()
                if scan_id == self._STOP:
                    return
                try:
                    if scanner is None:
                        scanner = runner.new_scanner()
                    runner.process(scan_id, scanner)
                except Exception:  # one bad job must not kill the worker
                    log.exception("job %s failed", scan_id)
                finally:
                    with self._lock:
                        self._queued.discard(scan_id)
        finally:
            if scanner is not None:
                scanner.close()


class CeleryExecutor(JobExecutor):
    """Publishes jobs to one lane's broker queue; Celery workers elsewhere run them
    (:mod:`deepscreen.service.celery_app`)."""

    def __init__(self, celery: Celery, queue: str, all_queues: list[str], task_name: str,
                 depth_cache_s: float = 2.0) -> None:
        self._celery = celery
        self.queue = queue
        self._queues = all_queues
        self._task_name = task_name
        self._depth_cache_s = depth_cache_s
        self._depth = (0, float("-inf"))  # (value, when measured)
        self._lock = threading.Lock()

    @property
    def runs_here(self) -> bool:
        return False

    def start(self, runner: JobRunner) -> None:
        """Check the broker is reachable, so a misconfigured URL fails at start-up."""
        try:
            with self._celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=2, interval_start=0.2,
                                             interval_step=0.5)
        except Exception as exc:
            raise DeepscreenError(f"cannot reach the job broker "
                                  f"{self._celery.conf.broker_url!r}: {exc}") from exc

    def submit(self, scan_id: str) -> None:
        try:
            self._celery.send_task(self._task_name, args=(scan_id,), queue=self.queue)
        except Exception:
            # The scan row and its blob are already durable and stay pending: the next
            # service start (resume_pending) queues it again. An upload is never lost
            # because the broker had a bad moment.
            log.exception("could not queue scan %s on %s; it stays pending", scan_id,
                          self.queue)

    def depth(self) -> int:
        """Jobs waiting in the broker (every lane); measured at most every few seconds."""
        with self._lock:
            value, measured = self._depth
            if time.monotonic() - measured < self._depth_cache_s:
                return value
            self._depth = (self._measure_depth(), time.monotonic())
            return self._depth[0]

    def _measure_depth(self) -> int:
        total = 0
        try:
            with self._celery.connection_for_read() as connection:
                channel = connection.default_channel
                for name in self._queues:
                    try:
                        total += channel.queue_declare(queue=name, passive=True).message_count
                    except Exception:  # a queue nobody declared yet is empty
                        continue
        except Exception:
            log.warning("cannot measure the job queue depth", exc_info=True)
        return total

    def stop(self, timeout_s: float = 10.0) -> None:
        """Nothing runs here; queued jobs stay in the broker for the workers."""
