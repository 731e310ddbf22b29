"""Everything a request handler needs, built once per app and reached via ``app.state``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ..banks import BankMatcher, BankStore
from ..store import BlobStore, Database
from .auth import DatabaseKeys
from .metrics import ServiceMetrics
from .ratelimit import RateLimiter
from .reviewing import HashSubmissions, QuarantineReview
from .screening import ScreeningService
from .settings import ServiceSettings
from .webhooks import WebhookDispatcher


@dataclass
class ServiceContext:
    settings: ServiceSettings
    db: Database
    blobs: BlobStore
    screening: ScreeningService
    webhooks: WebhookDispatcher
    metrics: ServiceMetrics
    rate_limits: RateLimiter
    keys: DatabaseKeys  # what admission checks presented API keys against
    banks: BankStore
    matcher: BankMatcher  # for hash look-ups; not thread-safe, hence the lock
    hash_submissions: HashSubmissions
    review: QuarantineReview
    matcher_lock: threading.Lock = field(default_factory=threading.Lock)


def get_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx  # Starlette's app.state is untyped
    return ctx


# What a route or page declares to receive the context (the one alias every module uses).
Context = Annotated[ServiceContext, Depends(get_context)]
