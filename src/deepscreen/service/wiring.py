"""Build the screening core from settings, without FastAPI: what every process that screens
shares (the service, a Celery worker, a backfill).

Each process builds only what it uses: the HTTP service adds rate limits, the bank matcher
and the webhook sender on top (:mod:`deepscreen.service.app`); a Celery worker uses the core
as it is, with no executor of its own (it is one) and an outbox nobody in it sends from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..config import ScanConfig
from ..policy import Policy
from ..store import BlobStore, Database
from .executors import CeleryExecutor, InProcessExecutor, JobExecutor
from .queues import LANES, TASK_NAME, make_celery, queue_name
from .screening import ScreeningService
from .settings import ServiceSettings
from .webhooks import WebhookOutbox


def open_database(settings: ServiceSettings, migrate: bool | None = None) -> Database:
    """The service database; migrated to the latest schema when ``migrate`` (default: the
    setting). Workers never migrate: several starting at once must not race on the schema."""
    db = Database(settings.resolved_database_url())
    if settings.migrate if migrate is None else migrate:
        db.upgrade()
    return db


def scan_config_for(settings: ServiceSettings, db: Database) -> ScanConfig:
    """The scan config, with the hashes signal on the service database's banks unless the
    config names another bank URL, so bank endpoints, reviewers and scanners share one."""
    config = settings.scan_config()
    hashes = config.options_for("hashes")
    if hashes.get("url"):
        return config
    url = db.engine.url.render_as_string(hide_password=False)
    return replace(config, signal_options={**config.signal_options, "hashes": {**hashes, "url": url}})


def policy_for(settings: ServiceSettings) -> Policy:
    return Policy.load(settings.policy) if settings.policy else Policy.default()


def make_executor(settings: ServiceSettings, lane: str = "live",
                  workers: int | None = None) -> JobExecutor:
    """Celery when a broker is configured (jobs to ``lane``), else in-process threads."""
    if settings.broker_url:
        return CeleryExecutor(make_celery(settings), queue_name(settings, lane),
                              [queue_name(settings, name) for name in LANES], TASK_NAME)
    return InProcessExecutor(workers=settings.workers if workers is None else workers)


def build_screening(settings: ServiceSettings, db: Database, *, executor: JobExecutor | None,
                    outbox: WebhookOutbox | None = None,
                    on_verdict: Callable[[str], None] | None = None) -> ScreeningService:
    """The screening service over ``db`` and the configured blob folder, banks and policy."""
    return ScreeningService(db, BlobStore(settings.blob_dir), scan_config_for(settings, db),
                            policy_for(settings),
                            outbox or WebhookOutbox(settings.webhook_urls),
                            executor=executor, sync_max_bytes=settings.sync_max_bytes,
                            max_upload_bytes=settings.max_upload_bytes,
                            sync_scanners=settings.sync_scanners,
                            job_max_attempts=settings.job_max_attempts, on_verdict=on_verdict)
