"""Callback URLs: public hosts on ordinary ports, checked at submission and at delivery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from deepscreen.service import callbacks  # noqa: E402
from deepscreen.service.callbacks import (  # noqa: E402
    CallbackPolicy,
    CallbackURLError,
    PinnedTransport,
    resolve_host,
)
from deepscreen.store.models import WebhookDelivery  # noqa: E402
from service_harness import running_service, wait_until  # noqa: E402

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://127.0.0.1/",  # loopback
    "http://localhost/",
    "http://[::1]/",
    "http://0x7f000001/",  # loopback, spelled in hex
    "http://2130706433/",  # ... and as one decimal number
    "http://127.1/",
    "http://10.0.0.1/",  # private
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",  # shared address space (carrier NAT)
    "http://[fe80::1]/",  # link-local
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "http://[fc00::1]/",  # unique local
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://0.0.0.0/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_addresses_are_refused_with_the_real_resolver(url: str) -> None:
    with pytest.raises(CallbackURLError, match="not a public address"):
        CallbackPolicy().check(url)


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/x", "absolute http"),
    ("file:///etc/passwd", "absolute http"),
    ("http://user:pw@example.com/", "credentials"),
    ("http://example.com:6379/", "port 6379 is not allowed"),
    ("http://example.com:22/", "port 22"),
    ("http://example.com:99999/", "malformed"),
])
def test_schemes_credentials_and_ports(url: str, why: str) -> None:
    with pytest.raises(CallbackURLError, match=why):
        CallbackPolicy(resolver=lambda host, port: ["93.184.216.34"]).check(url)


def test_public_hosts_pass_and_any_internal_address_fails_the_host() -> None:
    addresses = {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::"],
                 "split.example.com": ["93.184.216.34", "10.1.2.3"]}
    policy = CallbackPolicy(resolver=lambda host, port: addresses.get(host, []))
    assert policy.check("https://hooks.example.com/deepscreen") == \
        "https://hooks.example.com/deepscreen"
    with pytest.raises(CallbackURLError, match=r"10\.1\.2\.3"):
        policy.check("https://split.example.com/")
    with pytest.raises(CallbackURLError, match="does not resolve"):
        policy.check("https://nowhere.example.com/")
    with pytest.raises(CallbackURLError, match="does not resolve"):
        resolve_host("no-such-host.invalid", 80)


def test_an_allow_list_admits_only_its_hosts_internal_ones_included() -> None:
    policy = CallbackPolicy(allowed_hosts=("hooks.internal", "127.0.0.1"))
    assert policy.check("http://127.0.0.1/x") == "http://127.0.0.1/x"
    assert policy.vouched("http://hooks.internal/x")
    with pytest.raises(CallbackURLError, match="not in the allowed list"):
        policy.check("https://hooks.example.com/")


class _Receiver:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def test_delivery_connects_to_the_checked_address(receiver: _Receiver,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # Treat loopback as "public" for this one test, so a local receiver can stand in for the
    # internet. "hooks.test" resolves nowhere in real DNS: the request can only arrive if
    # the transport connected to the address the policy resolved.
    monkeypatch.setattr(callbacks, "is_public", lambda address: True)
    policy = CallbackPolicy(ports=(receiver.port,),
                            resolver=lambda host, port: ["127.0.0.1"] if host == "hooks.test" else [])
    with httpx.Client(transport=PinnedTransport(policy)) as client:
        answer = client.post(f"http://hooks.test:{receiver.port}/hook", content=b"{}")
    assert answer.status_code == 204
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]  # the name, not the address


def test_dns_rebinding_after_submission_is_refused_at_delivery(
        tmp_path: Path, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host looked public when the scan was submitted and points at loopback when the
    report is sent: nothing is sent, and the delivery fails for good at once."""
    answers = iter([["93.184.216.34"]])  # the first look-up (at submission) is public

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])

    monkeypatch.setattr(callbacks, "resolve_host", rebinding)
    with running_service("sqlite", tmp_path, callback_ports=(receiver.port,),
                         webhook_backoff_s=0.05) as h:
        url = f"http://rebind.test:{receiver.port}/hook"
        accepted = h.upload(b"\x00not media" * 50, "x.bin", callback_url=url)
        assert accepted.status_code == 200

        def failed() -> bool:
            with h.ctx.db.session() as session:
                row = session.query(WebhookDelivery).filter_by(url=url).one()
                return row.status == "failed"
        wait_until(failed, 15, "the rebound delivery to be refused")
        with h.ctx.db.session() as session:
            row = session.query(WebhookDelivery).filter_by(url=url).one()
            assert row.attempts == 1 and "not a public address" in (row.last_error or "")
    assert receiver.hosts == []
