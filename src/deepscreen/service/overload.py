"""Overload protection: a bound on uploads in flight, answered with 429 beyond it.

Per-key rate limits stop one client; they do not stop many clients together from sending
more than the host can screen. Without a bound, every extra upload waits in the thread pool
for a scanner, holding its body in memory and a thread, until latency climbs for everyone
and health checks time out. With it, an upload over the bound is refused at once with
``429 Too Many Requests`` and ``Retry-After``, which clients (and load balancers) understand,
and the uploads already accepted finish at normal speed.

The bound counts requests, in this process, on the upload routes only (``POST /v1/scans``
and ``POST /v1/hashes``); reads, the review queue, ``/healthz`` and ``/metrics`` are never
refused, so a saturated service can still be watched and reviewed.
"""

from __future__ import annotations

import json
import os

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_IN_FLIGHT_ENV = "DEEPSCREEN_MAX_IN_FLIGHT"
DEFAULT_MAX_IN_FLIGHT = 32
LIMITED_PATHS = ("/v1/scans", "/v1/scans/batch", "/v1/hashes")
DRAIN_MAX_BYTES = 1 << 20  # refused bodies up to this size are read so the connection stays


def max_in_flight_from_env(environ: dict[str, str] | None = None) -> int:
    """``$DEEPSCREEN_MAX_IN_FLIGHT`` (0 turns the bound off), else the default."""
    env = os.environ if environ is None else environ
    raw = env.get(MAX_IN_FLIGHT_ENV, "")
    if not raw:
        return DEFAULT_MAX_IN_FLIGHT
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{MAX_IN_FLIGHT_ENV} must be a whole number, not {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{MAX_IN_FLIGHT_ENV} must be 0 (off) or more, not {value}")
    return value


class ConcurrencyLimit:
    """ASGI middleware: at most ``max_in_flight`` upload requests at once; 429 beyond.

    The counter needs no lock: it is only touched on the event loop, and nothing awaits
    between the check and the increment.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int | None = None,
                 paths: tuple[str, ...] = LIMITED_PATHS, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = (max_in_flight_from_env() if max_in_flight is None
                              else max_in_flight)
        self.paths = paths
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.refused = 0

    def _limited(self, scope: Scope) -> bool:
        return (self.max_in_flight > 0 and scope["type"] == "http"
                and scope.get("method") == "POST" and scope.get("path") in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._limited(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            self.refused += 1
            await self._refuse(receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, receive: Receive, send: Send) -> None:
        # Read (and drop) a small body first: closing a socket with unread data makes the
        # kernel reset the connection, and the client would see an error, not the 429.
        drained, more = 0, True
        while more and drained <= DRAIN_MAX_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)
        body = json.dumps({"detail": f"the service is at capacity ({self.max_in_flight} uploads"
                                     f" in flight); retry after {self.retry_after_s} s"}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()),
                   (b"retry-after", str(self.retry_after_s).encode())]
        if more:  # a large upload: do not read it all, end the connection instead
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
