"""ASGI middleware: metrics and one JSON log line per request (admission is its own module)."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import ServiceMetrics

log = logging.getLogger("deepscreen.service.access")


class MetricsAndAccessLog:
    """Count and time every request by its route template; log it as one JSON line."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe_request(scope["method"], route, status, elapsed)
            state: dict[str, Any] = scope.get("state") or {}
            log.info("request", extra={"method": scope["method"], "route": route,
                                       "path": scope["path"], "status": status,
                                       "ms": round(elapsed * 1000, 2),
                                       "key_id": state.get("key_id")})


def _route_template(scope: Scope) -> str:
    """``/v1/scans/{scan_id}``, not the concrete path: keeps metric label cardinality bounded."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
