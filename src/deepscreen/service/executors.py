"""The Celery job executor, and the choice between it and the in-process one.

:class:`CeleryExecutor` implements :class:`~deepscreen.service.jobs.JobExecutor`: ``submit``
publishes the scan id to a broker queue and returns; Celery workers
(:mod:`deepscreen.service.celery_app`) run the job. Which executor a service gets is decided
by one environment variable, so the same build runs embedded or scaled out.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ..errors import DeepscreenError
from .jobs import InProcessExecutor, JobExecutor

if TYPE_CHECKING:
    from celery import Celery

    from .screening import ScreeningService

log = logging.getLogger(__name__)


class CeleryExecutor(JobExecutor):
    """Publishes jobs to one lane's queue; workers elsewhere take them.

    ``lane="live"`` is for uploads, ``lane="backfill"`` for archives: workers always take
    live jobs first, so a backfill never delays an upload.
    """

    def __init__(self, celery: Celery | None = None, lane: str = "live",
                 depth_cache_s: float = 2.0) -> None:
        from . import celery_app

        self._celery = celery if celery is not None else celery_app.app
        self.lane = lane
        self.queue = celery_app.queue_name(lane)
        self._queues = [celery_app.queue_name(name) for name in celery_app.LANES]
        self._task_name = celery_app.TASK_NAME
        self._depth_cache_s = depth_cache_s
        self._depth = (0, float("-inf"))  # (value, when measured)
        self._lock = threading.Lock()

    def start(self) -> None:
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
        """Jobs waiting in the broker (both lanes); measured at most every few seconds."""
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
                for queue in self._queues:
                    try:
                        total += channel.queue_declare(queue=queue, passive=True).message_count
                    except Exception:  # a queue nobody declared yet is empty
                        continue
        except Exception:
            log.warning("cannot measure the job queue depth", exc_info=True)
        return total

    def stop(self, timeout_s: float = 10.0) -> None:
        """Nothing runs here; queued jobs stay in the broker for the workers."""


def make_executor(service: ScreeningService, workers: int = 1) -> JobExecutor:
    """Celery when ``DEEPSCREEN_BROKER_URL`` is set, else ``workers`` in-process threads."""
    from . import celery_app

    if celery_app.broker_url():
        return CeleryExecutor()
    return InProcessExecutor(service.process, service.new_scanner, workers=workers)
