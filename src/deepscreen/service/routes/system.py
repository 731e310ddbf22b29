"""Liveness and Prometheus metrics (no API key: keep /metrics on an internal network)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from ..context import Context
from ..metrics import CONTENT_TYPE_LATEST
from ..schemas import Health

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=Health)
def health(ctx: Context) -> Health:
    """The service is up and its database answers."""
    with ctx.db.session() as session:
        session.execute(text("SELECT 1"))
    executor = ctx.screening.executor
    return Health(status="ok", database=ctx.db.dialect,
                  pending_jobs=executor.depth() if executor is not None else 0)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}}})
def metrics(ctx: Context) -> Response:
    """Prometheus text format: requests, latency, verdicts, job queue depth, webhooks."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
