"""Job queues on a broker: their names and the Celery app that publishes and consumes them.

A job message carries only a scan id: the pending row and its blob are durable before the
message is sent, so the broker holds nothing that is not also in the store. Jobs go to one
of two lanes, ``<queue>.live`` (uploads) and ``<queue>.backfill`` (archives); workers take
live jobs first, so a backfill never delays an upload.

Delivery guarantees come from Celery's late acknowledgement: the message is acknowledged only
after the task returns (the result is committed by then); a worker that dies mid-job (SIGKILL,
OOM, power) never acknowledges it, and the broker hands it to another worker (on Redis after
``broker_visibility_timeout`` seconds, on RabbitMQ as soon as the connection drops).
"""

from __future__ import annotations

from celery import Celery

from ..errors import DeepscreenError
from .settings import ServiceSettings

TASK_NAME = "deepscreen.scan_job"
LANES = ("live", "backfill")  # in the order a worker takes jobs from them
FALLBACK_BROKER = "redis://127.0.0.1:6379/0"  # what `celery -A ...` talks to unconfigured


def queue_name(settings: ServiceSettings, lane: str) -> str:
    """The broker queue for a lane (``live`` or ``backfill``)."""
    if lane not in LANES:
        raise DeepscreenError(f"lane {lane!r} is not one of {', '.join(LANES)}")
    return f"{settings.queue}.{lane}"


def make_celery(settings: ServiceSettings) -> Celery:
    """A Celery app for the configured broker, tuned so no job is lost or held idle."""
    visibility = settings.broker_visibility_timeout
    celery = Celery("deepscreen", broker=settings.broker_url or FALLBACK_BROKER,
                    set_as_current=False)
    celery.conf.update(
        task_acks_late=True,  # acknowledge after the result is stored, not on receipt
        task_reject_on_worker_lost=True,  # a killed child's job goes back to the queue
        worker_prefetch_multiplier=1,  # a worker holds no queued job another could run
        task_ignore_result=True,  # results live in the database, not in a result backend
        task_default_queue=queue_name(settings, "live"),
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


def broker_description(settings: ServiceSettings) -> str:
    """The broker URL without credentials, for logs."""
    url = settings.broker_url or ""
    return url.split("@")[-1] if "@" in url else url
