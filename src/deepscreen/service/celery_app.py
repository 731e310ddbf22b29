"""Scale-out: scan jobs run by Celery workers instead of threads in the service process.

Start workers with ``deepscreen worker`` (or ``celery -A deepscreen.service.celery_app
worker``) on any host that sees the same database and blob folder as the service, with the
same ``DEEPSCREEN_*`` environment plus ``DEEPSCREEN_BROKER_URL``.

A job message carries only a scan id: the pending row and its blob are durable before the
message is sent, so the broker holds no data that is not also in the store. The task reuses
:meth:`ScreeningService.process` (the one code path that scans a stored blob and records the
result), which leaves a finished scan alone: a re-delivered message does nothing twice.

Delivery guarantees come from Celery's late acknowledgement: the message is acknowledged only
after the task returns (the result is committed by then); a worker that dies mid-job (SIGKILL,
OOM, power) never acknowledges it, and the broker hands it to another worker (on Redis after
``DEEPSCREEN_BROKER_VISIBILITY_TIMEOUT`` seconds, on RabbitMQ as soon as the connection drops).

Environment (read once, when this module is imported):

- ``DEEPSCREEN_BROKER_URL``: ``redis://127.0.0.1:6379/0`` or ``amqp://guest:guest@host//``.
- ``DEEPSCREEN_QUEUE``: queue name prefix (default ``deepscreen``); jobs go to
  ``<prefix>.live`` (uploads) and ``<prefix>.backfill`` (archives, lower priority).
- ``DEEPSCREEN_BROKER_VISIBILITY_TIMEOUT``: Redis only; seconds before an unacknowledged job
  is given to another worker (default 3600). Must exceed the longest scan, or a slow job is
  run twice (harmless, the second run finds it finished, but wasted work).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

from celery import Celery, Task

from ..errors import DeepscreenError
from ..scan import Scanner
from ..store import audit
from ..store.models import Scan
from .metrics import ServiceMetrics
from .screening import ScreeningService
from .settings import ServiceSettings

log = logging.getLogger(__name__)

BROKER_URL_ENV = "DEEPSCREEN_BROKER_URL"
QUEUE_ENV = "DEEPSCREEN_QUEUE"
VISIBILITY_TIMEOUT_ENV = "DEEPSCREEN_BROKER_VISIBILITY_TIMEOUT"
DEFAULT_QUEUE = "deepscreen"
TASK_NAME = "deepscreen.scan_job"
LANES = ("live", "backfill")  # in the order a worker takes jobs from them


def broker_url(environ: dict[str, str] | None = None) -> str | None:
    """The configured broker URL, or ``None`` when jobs run in the service process."""
    env = os.environ if environ is None else environ
    return env.get(BROKER_URL_ENV) or None


def queue_name(lane: str, environ: dict[str, str] | None = None) -> str:
    """The broker queue for a lane (``live`` or ``backfill``)."""
    if lane not in LANES:
        raise DeepscreenError(f"lane {lane!r} is not one of {', '.join(LANES)}")
    env = os.environ if environ is None else environ
    return f"{env.get(QUEUE_ENV) or DEFAULT_QUEUE}.{lane}"


def make_celery(environ: dict[str, str] | None = None) -> Celery:
    """A Celery app configured from the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    visibility = int(env.get(VISIBILITY_TIMEOUT_ENV) or 3600)
    celery = Celery("deepscreen", broker=broker_url(env) or "redis://127.0.0.1:6379/0",
                    set_as_current=False)
    celery.conf.update(
        task_acks_late=True,  # acknowledge after the result is stored, not on receipt
        task_reject_on_worker_lost=True,  # a killed child's job goes back to the queue
        worker_prefetch_multiplier=1,  # a worker holds no queued job another could run
        task_ignore_result=True,  # results live in the database, not in a result backend
        task_default_queue=queue_name("live", env),
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Redis: restore jobs of dead workers promptly once their timeout has passed.
            "unacked_restore_interval": max(1, min(10, visibility // 2)),
            "unacked_restore_throttle": 1,
            # Redis: always look at the live queue first (no round robin), so a queued
            # backfill never delays an upload.
            "queue_order_strategy": "priority",
        },
        # Publishing must not hang an upload request for long when the broker is gone.
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2,
                                   "interval_step": 0.5, "interval_max": 1.0},
    )
    return celery


@dataclass
class WorkerState:
    """What one worker process builds once and keeps: the service core and its Scanner."""

    service: ScreeningService
    scanner: Scanner


_state: WorkerState | None = None
_state_lock = threading.Lock()


def build_screening_service(settings: ServiceSettings) -> ScreeningService:
    """The screening core exactly as the service process builds it (banks, policy, store).

    Workers do not run migrations (the service or ``deepscreen db upgrade`` does; several
    workers starting at once must not race on the schema) and do not send webhooks:
    deliveries are written to the database here and sent by the service's dispatcher, so a
    worker needs no outbound network.
    """
    from .app import build_context

    ctx = build_context(replace(settings, migrate=False), ServiceMetrics())
    return ctx.screening


def worker_state() -> WorkerState:
    """This process's service and Scanner, built on first use (each pool child its own)."""
    global _state
    with _state_lock:
        if _state is None:
            service = build_screening_service(ServiceSettings.from_env())
            _state = WorkerState(service=service, scanner=service.new_scanner())
        return _state


app = make_celery()


@app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True,
          ignore_result=True)
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


def describe() -> dict[str, Any]:
    """The settings a worker runs with, for its start-up log line (no secrets)."""
    url = broker_url()
    safe = url.split("@")[-1] if url and "@" in url else url
    return {"broker": safe, "queues": [queue_name(lane) for lane in LANES]}
