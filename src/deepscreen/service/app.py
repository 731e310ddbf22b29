"""The FastAPI application: build the storage and workers once, serve the routes over them.

``create_app(settings)`` is what ``deepscreen serve`` runs (and what tests use);
``make_app`` builds the routes alone, without touching a database, for the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from ..banks import BankMatcher, open_store
from ..errors import DeepscreenError
from ..store import keys as api_keys
from ..store.blobs import BlobError
from ..version import __version__
from . import ui
from .admission import Admission, KeyChecker
from .auth import DatabaseKeys
from .context import ServiceContext
from .docs_pages import add_offline_docs
from .errors import status_for
from .metrics import ServiceMetrics
from .middleware import MetricsAndAccessLog
from .ratelimit import make_rate_limiter
from .reviewing import HashSubmissions, QuarantineReview
from .routes import admin, banks, review, scans, system
from .settings import ServiceSettings
from .webhooks import WebhookDispatcher, WebhookOutbox
from .wiring import build_screening, make_executor, open_database

log = logging.getLogger("deepscreen.service")

DESCRIPTION = """Screen uploads for known abuse content, provenance and manipulated faces.

Every endpoint except `/healthz`, `/metrics` and this document needs an API key
(`Authorization: Bearer dsk_...` or `X-API-Key`). Roles: **submitter** (scans, hash
submissions), **reviewer** (+ the review queue), **admin** (+ banks, keys, audit log).
Reports follow the schema `deepscreen.report/1`. See docs/service.md.
"""


def make_app(settings: ServiceSettings, metrics: ServiceMetrics) -> FastAPI:
    """The routes and middleware, with no storage attached (``app.state.ctx`` unset)."""
    app = FastAPI(title="Deepscreen", version=__version__, description=DESCRIPTION,
                  lifespan=_lifespan, docs_url=None, redoc_url=None)
    add_offline_docs(app)
    for router in (scans.router, review.router, banks.router, banks.hashes_router,
                   admin.router, system.router, ui.router):
        app.include_router(router)

    @app.exception_handler(DeepscreenError)  # BlobError and the review errors included
    async def domain_error(_request: Request, exc: DeepscreenError) -> JSONResponse:
        code = status_for(exc)
        if isinstance(exc, BlobError):
            log.error("blob storage failed: %s", exc)
            return JSONResponse({"detail": f"storage unavailable: {exc}"}, status_code=code)
        return JSONResponse({"detail": str(exc)}, status_code=code)

    # The last added runs first: metrics and the access log see every answer, admission's
    # 401s, 408s, 413s and 429s included; admission decides from the headers, before any
    # route reads a byte of the body.
    app.add_middleware(Admission, limits=settings.admission_limits(), checker_for=_key_checker)
    app.add_middleware(MetricsAndAccessLog, metrics=metrics)
    return app


def _key_checker(scope: Scope) -> KeyChecker:
    keys: KeyChecker = scope["app"].state.ctx.keys  # Starlette's app.state is untyped
    return keys


def build_context(settings: ServiceSettings, metrics: ServiceMetrics) -> ServiceContext:
    """The screening core (:mod:`.wiring`) plus what only the HTTP service uses: the webhook
    sender, rate limits, API keys, the bank store and matcher, hash submissions."""
    db = open_database(settings)
    webhooks = WebhookDispatcher(db, settings.resolved_webhook_secret(), settings.webhook_urls,
                                 max_attempts=settings.webhook_max_attempts,
                                 backoff_s=settings.webhook_backoff_s,
                                 timeout_s=settings.webhook_timeout_s,
                                 callback_policy=settings.callback_policy(),
                                 on_outcome=metrics.count_webhook)
    # In-process threads, or Celery workers when a broker is configured.
    executor = make_executor(settings)
    screening = build_screening(settings, db, executor=executor,
                                outbox=WebhookOutbox(settings.webhook_urls, notify=webhooks.wake),
                                on_verdict=metrics.count_verdict)
    metrics.track_queue_depth(executor.depth)
    bank_store = open_store(screening.scan_config)
    rate_limits = make_rate_limiter(settings.rate_per_s, settings.rate_burst,
                                    settings.rate_limit_url)
    return ServiceContext(settings=settings, db=db, blobs=screening.blobs, screening=screening,
                          webhooks=webhooks, metrics=metrics, rate_limits=rate_limits,
                          keys=DatabaseKeys(db, rate_limits),
                          banks=bank_store, matcher=BankMatcher(bank_store, settings.home),
                          hash_submissions=HashSubmissions(db, bank_store,
                                                           settings.submission_banks),
                          review=QuarantineReview(db, screening.blobs, bank_store,
                                                  screening.release_blob))


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The service, ready to run; settings default to the ``DEEPSCREEN_*`` environment."""
    settings = settings or ServiceSettings.from_env()
    metrics = ServiceMetrics()
    app = make_app(settings, metrics)
    app.state.ctx = build_context(settings, metrics)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: ServiceContext = app.state.ctx
    removed = ctx.blobs.clean_incoming()
    ctx.screening.start()
    ctx.webhooks.start()
    resumed = ctx.screening.resume_pending()
    with ctx.db.session() as session:
        has_keys = bool(api_keys.list_keys(session))
    if not has_keys:
        # A fresh service answers every /v1 request 401: say how to get in.
        log.warning("no API key exists yet; create the first one with: deepscreen apikey create "
                    "--role admin --name ops (with the same DEEPSCREEN_HOME / "
                    "DEEPSCREEN_DATABASE_URL as this service); it is printed once")
    log.info("service started", extra={"database": ctx.db.dialect, "resumed_jobs": resumed,
                                       "removed_partial_uploads": removed,
                                       "workers": ctx.settings.workers})
    try:
        yield
    finally:
        ctx.screening.stop()
        ctx.webhooks.stop()
        ctx.banks.close()
        ctx.db.dispose()
