"""The Celery worker task: finish one pending scan (``deepscreen worker`` runs it).

Start workers on any host that sees the same database and blob folder as the service, with
the same ``DEEPSCREEN_*`` environment plus ``DEEPSCREEN_BROKER_URL`` (see
:mod:`deepscreen.service.queues` for the queues and the delivery guarantees). The task
reuses :meth:`ScreeningService.process`, the one code path that scans a stored blob and
records the result, which leaves a finished scan alone: a re-delivered message does nothing
twice.

A worker builds only the screening core (:mod:`deepscreen.service.wiring`): it runs no
migrations and sends no webhooks. Deliveries are written to the database here and sent by the
service's dispatcher, so a worker needs no outbound network.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from celery import Task

from ..scan import Scanner
from ..store import audit
from ..store.models import Scan
from .queues import TASK_NAME, make_celery
from .screening import ScreeningService
from .settings import ServiceSettings
from .wiring import build_screening, open_database

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    """What one worker process builds once and keeps: the screening core and its Scanner."""

    service: ScreeningService
    scanner: Scanner


_state: WorkerState | None = None
_state_lock = threading.Lock()


def worker_service(settings: ServiceSettings) -> ScreeningService:
    """The screening core as a worker uses it: no migrations, no executor, no sender."""
    return build_screening(settings, open_database(settings, migrate=False), executor=None)


def worker_state() -> WorkerState:
    """This process's service and Scanner, built on first use (each pool child its own)."""
    global _state
    with _state_lock:
        if _state is None:
            service = worker_service(ServiceSettings.from_env())
            _state = WorkerState(service=service, scanner=service.new_scanner())
        return _state


def reset_worker_state() -> None:
    """Drop this process's cached service (tests that run the task in-process)."""
    global _state
    with _state_lock:
        if _state is not None:
            _state.scanner.close()
            _state.service.stop()
            _state.service.db.dispose()
        _state = None


app = make_celery(ServiceSettings.from_env())


# Celery ships no type information (see [tool.mypy] in pyproject.toml), so its decorator is Any.
@app.task(name=TASK_NAME, bind=True, acks_late=True,  # type: ignore[untyped-decorator]
          reject_on_worker_lost=True, ignore_result=True)
def scan_job(self: Task, scan_id: str) -> str:
    """Finish one pending scan; returns its status afterwards (``done``, ``failed``, ...)."""
    state = worker_state()
    db = state.service.db
    with db.session() as session:
        scan = session.get(Scan, scan_id)
        if scan is None:
            log.warning("job for unknown scan %s dropped", scan_id)
            return "unknown"
        if scan.status != "pending":  # a re-delivery of a job whose result is stored
            return scan.status
        # Which worker ran which attempt: the trail that shows a job moved after a crash.
        audit.record(session, f"worker:{self.request.hostname}", "job.run", f"scan:{scan_id}",
                     {"pid": os.getpid(), "attempt": scan.attempts + 1,
                      "redelivered": bool((self.request.delivery_info or {})
                                          .get("redelivered"))})
    state.service.process(scan_id, state.scanner)
    with db.session() as session:
        scan = session.get(Scan, scan_id)
        return scan.status if scan is not None else "unknown"
