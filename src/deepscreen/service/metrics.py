"""Prometheus metrics: requests, latency, verdicts and queue depth, in the app's own registry.

A registry per app (not the global one) lets tests build many apps in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServiceMetrics"]


class ServiceMetrics:
    """The service's instruments; ``render()`` is the text served at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("deepscreen_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("deepscreen_http_request_seconds", "Time to answer a request",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                          10, 30))
        self.verdicts = Counter("deepscreen_verdicts_total", "Finished scans by verdict",
                                ["action"], registry=self.registry)
        self.queue_depth = Gauge("deepscreen_job_queue_depth",
                                 "Scan jobs queued or running in this process",
                                 registry=self.registry)
        self.webhook_deliveries = Counter("deepscreen_webhook_deliveries_total",
                                          "Webhook delivery outcomes", ["outcome"],
                                          registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def count_verdict(self, action: str) -> None:
        self.verdicts.labels(action).inc()

    def count_webhook(self, outcome: str) -> None:
        self.webhook_deliveries.labels(outcome).inc()

    def track_queue_depth(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
