"""Webhooks: finished reports POSTed as signed JSON, persisted and retried with backoff.

Signature: ``X-Deepscreen-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` with the shared secret, where ``X-Deepscreen-Timestamp`` carries the
Unix time of sending. Receivers check both (see :func:`verify_signature`): the timestamp
bounds how long a captured request can be replayed.

These deliveries are the only requests the service makes; it never fetches a URL a caller
names for any other purpose. A caller's ``callback_url`` goes only to public addresses, checked
again at each delivery (see :mod:`deepscreen.service.callbacks`); the operator's configured
webhook URLs are trusted as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..report import Report
from ..store import Database
from ..store.models import Scan, WebhookDelivery, utcnow
from .callbacks import CallbackPolicy, CallbackURLError, PinnedTransport

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Deepscreen-Signature"
TIMESTAMP_HEADER = "X-Deepscreen-Timestamp"
EVENT_HEADER = "X-Deepscreen-Event"
DELIVERY_HEADER = "X-Deepscreen-Delivery"
DEFAULT_TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, body: bytes, timestamp: str | None, signature: str | None,
                     tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    if not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def payload_for(scan: Scan, report: Report | None) -> str:
    return json.dumps({"event": "scan.completed", "scan_id": scan.id, "status": scan.status,
                       "verdict": scan.verdict,
                       "report": None if report is None else report.to_document()},
                      ensure_ascii=False, separators=(",", ":"))


class WebhookOutbox:
    """Writes deliveries in the caller's transaction, so a crash never loses one.

    Every finished scan gets a delivery to each configured URL and to its own callback.
    ``notify`` (called after the transaction commits) wakes whoever sends them: the
    service's :class:`WebhookDispatcher`; a Celery worker sends none itself.
    """

    def __init__(self, urls: tuple[str, ...] = (),
                 notify: Callable[[], None] | None = None) -> None:
        self._urls = urls
        self._notify = notify or (lambda: None)

    def enqueue(self, session: Session, scan: Scan, report: Report | None) -> int:
        """Add a delivery per configured webhook and the scan's callback; returns how many."""
        targets = list(dict.fromkeys([*self._urls, *([scan.callback_url]
                                                      if scan.callback_url else [])]))
        body = payload_for(scan, report)
        now = utcnow()
        for url in targets:
            session.add(WebhookDelivery(scan_id=scan.id, url=url, event="scan.completed",
                                        payload=body, status="pending", attempts=0,
                                        next_attempt_at=now, created_at=now))
        return len(targets)

    def notify(self) -> None:
        self._notify()


class WebhookDispatcher:
    """Sends the deliveries an outbox wrote, from a background thread, retrying with backoff."""

    def __init__(self, db: Database, secret: str, urls: tuple[str, ...] = (),
                 max_attempts: int = 8, backoff_s: float = 2.0, timeout_s: float = 10.0,
                 poll_s: float = 1.0, callback_policy: CallbackPolicy | None = None,
                 on_outcome: Callable[[str], None] | None = None) -> None:
        self._db = db
        self.callback_policy = callback_policy or CallbackPolicy()
        self._secret = secret
        self._urls = urls
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_outcome = on_outcome or (lambda outcome: None)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="deepscreen-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        with self.clients() as clients:
            while not self._stop.is_set():
                try:
                    sent = self.deliver_due(clients)
                except Exception:  # a database hiccup must not end deliveries for good
                    log.exception("webhook delivery pass failed")
                    sent = 0
                if not sent:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()

    def clients(self) -> DeliveryClients:
        """The HTTP clients deliveries go through (close them when done)."""
        return DeliveryClients(
            configured=httpx.Client(timeout=self._timeout_s, follow_redirects=False),
            callbacks=httpx.Client(timeout=self._timeout_s, follow_redirects=False,
                                   transport=PinnedTransport(self.callback_policy)))

    def deliver_due(self, clients: DeliveryClients, limit: int = 20) -> int:
        """Send deliveries whose time has come; returns how many were attempted."""
        now = utcnow()
        lease = now + timedelta(seconds=self._timeout_s * 3)
        with self._db.session() as session:
            due = list(session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at).limit(limit)
                # PostgreSQL: another service process skips rows this one is leasing.
                .with_for_update(skip_locked=True)))
            for delivery in due:  # leased, so a slow send is not picked up twice
                delivery.next_attempt_at = lease
            claimed = [(d.id, d.url, d.event, d.payload, d.attempts) for d in due]
        for delivery_id, url, event, payload, attempts in claimed:
            client = clients.configured if url in self._urls else clients.callbacks
            status_code, error, final = self._send(client, delivery_id, url, event, payload)
            self._record(delivery_id, attempts + 1, status_code, error, final)
        return len(claimed)

    def _send(self, client: httpx.Client, delivery_id: int, url: str, event: str,
              payload: str) -> tuple[int | None, str | None, bool]:
        """Status code, error and whether the error is final (never worth a retry)."""
        body = payload.encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
                   SIGNATURE_HEADER: sign(self._secret, timestamp, body), EVENT_HEADER: event,
                   DELIVERY_HEADER: str(delivery_id), "User-Agent": "deepscreen-webhooks"}
        try:
            response = client.post(url, content=body, headers=headers)
        except CallbackURLError as exc:  # the host now resolves somewhere it may not go
            return None, f"refused: {exc}", True
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}", False
        if 200 <= response.status_code < 300:
            return response.status_code, None, False
        return response.status_code, f"HTTP {response.status_code}", False

    def _record(self, delivery_id: int, attempts: int, status_code: int | None,
                error: str | None, final: bool = False) -> None:
        with self._db.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts = attempts
            delivery.last_status_code = status_code
            delivery.last_error = error
            if error is None:
                delivery.status = "delivered"
                delivery.delivered_at = utcnow()
                self._on_outcome("delivered")
            elif final or attempts >= self._max_attempts:
                delivery.status = "failed"
                self._on_outcome("failed")
                log.warning("webhook %s to %s failed for good: %s", delivery_id,
                            delivery.url, error)
            else:
                delay = self._backoff_s * (2 ** (attempts - 1))
                delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
                self._on_outcome("retry")


@dataclass
class DeliveryClients:
    """One client for the operator's webhooks, one pinned to checked addresses for callbacks."""

    configured: httpx.Client
    callbacks: httpx.Client

    def __enter__(self) -> DeliveryClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.configured.close()
        self.callbacks.close()
