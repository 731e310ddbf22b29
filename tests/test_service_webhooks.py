"""Webhooks against a real local receiver: signed bodies, replay window, retries, give-up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from deepscreen.service.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from deepscreen.store.models import WebhookDelivery
from service_harness import running_service, wait_until


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests; /flaky fails once, /down always."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._flaky_failed = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                fail = self.path == "/down" or (self.path == "/flaky"
                                                and not receiver._flaky_failed)
                if self.path == "/flaky":
                    receiver._flaky_failed = True
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in list(self.requests) if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_signature_round_trip_and_replay_window() -> None:
    body = b'{"a":1}'
    now = int(time.time())
    signature = sign("k", now, body)
    assert signature.startswith("sha256=")
    assert verify_signature("k", body, str(now), signature)
    assert not verify_signature("k", body + b" ", str(now), signature)  # tampered body
    assert not verify_signature("other", body, str(now), signature)  # wrong secret
    assert not verify_signature("k", body, str(now + 1), signature)  # timestamp is signed
    old = now - 3600
    assert not verify_signature("k", body, str(old), sign("k", old, body))  # replayed later
    assert not verify_signature("k", body, None, signature)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_callback_and_configured_webhook_are_signed_and_retried(
        backend: str, tmp_path: Path, receiver: Receiver) -> None:
    # The receiver is on loopback: the operator allows that host (and its port) explicitly.
    with running_service(backend, tmp_path, webhook_urls=(f"{receiver.url}/all",),
                         webhook_backoff_s=0.05, webhook_max_attempts=3,
                         callback_hosts=("127.0.0.1",), callback_ports=(receiver.port,)) as h:
        scan = h.upload(b"\x00not media" * 100, "x.bin",
                        callback_url=f"{receiver.url}/flaky").json()
        wait_until(lambda: len(receiver.on("/flaky")) == 2 and receiver.on("/all"), 20,
                   "the retried callback and the configured webhook")
        for headers, body in [receiver.on("/flaky")[-1], receiver.on("/all")[0]]:
            assert verify_signature("test-secret", body, headers[TIMESTAMP_HEADER],
                                    headers[SIGNATURE_HEADER])
            payload = json.loads(body)
            assert payload["event"] == "scan.completed" and payload["scan_id"] == scan["id"]
            assert payload["report"]["schema"] == "deepscreen.report/1"
            assert payload["verdict"] == "quarantine"

        def deliveries() -> dict[str, WebhookDelivery]:
            with h.ctx.db.session() as session:
                return {r.url: r for r in session.query(WebhookDelivery)}
        wait_until(lambda: all(r.status == "delivered" for r in deliveries().values()), 10,
                   "both deliveries to be recorded")
        flaky = deliveries()[f"{receiver.url}/flaky"]
        assert flaky.status == "delivered" and flaky.attempts == 2
        assert flaky.last_status_code == 204 and flaky.delivered_at is not None

        h.upload(b"\x01not media" * 100, "y.bin", callback_url=f"{receiver.url}/down")

        def gave_up() -> bool:
            with h.ctx.db.session() as session:
                row = session.query(WebhookDelivery).filter_by(url=f"{receiver.url}/down").one()
                return row.status == "failed"
        wait_until(gave_up, 30, "the delivery to be given up")
        assert len(receiver.on("/down")) == 3  # webhook_max_attempts
        metrics = h.client.get("/metrics").text
        assert 'deepscreen_webhook_deliveries_total{outcome="failed"} 1.0' in metrics
