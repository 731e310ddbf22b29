"""Admission: who may send a request body, how many at once, how big and how slowly.

Everything here is decided from the request line and headers, before one byte of the body is
read, because reading (and spooling) a body is the expensive part an attacker would aim at:

1. ``/v1/...`` needs an API key. A request without one, or with an unknown or revoked one,
   is answered ``401`` at once; its body is never read. The key's rate-limit token is taken
   here too, so a throttled key is refused before its upload is read.
2. Slots. At most ``max_in_flight`` uploads are read and screened at once in this process,
   at most ``max_in_flight_per_key`` of them for one key, and at most
   ``max_in_flight_per_client`` requests of any kind from one peer address. Anonymous
   requests never hold an upload slot, so no one without a key can lock the service.
3. Body bounds. A declared ``Content-Length`` over the route's limit is a ``413`` at once;
   a streamed (chunked) body is counted as it arrives and cut at the limit with ``413``. A
   body that stalls (no byte for ``body_idle_timeout_s``) or takes longer than
   ``body_timeout_s`` in all is cut with ``408``: a slow sender cannot hold a slot forever.

Uploads (``POST /v1/scans``, ``/v1/scans/batch``, ``/v1/compare``, a bank CSV import) may
be as large as the upload limit; every other request body is small (``small_body_bytes``).
A reverse proxy in front should still bound header time and connections per address
(docs/service.md says what to set); this layer is the last line, not the only one.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store.keys import Principal
from .ratelimit import retry_after_header

API_PREFIX = "/v1/"
UPLOAD_PATHS = ("/v1/scans", "/v1/scans/batch", "/v1/compare")
UPLOAD_PATTERNS = (re.compile(r"^/v1/banks/[^/]+/import$"),)
# Requests that take an upload slot: they read a body and then do heavy work.
SLOT_PATHS = (*UPLOAD_PATHS, "/v1/hashes")
UNLIMITED_PATHS = ("/healthz", "/metrics")  # monitoring is never refused
DRAIN_MAX_BYTES = 64 << 10
DRAIN_MAX_S = 1.0


class KeyChecker(Protocol):
    """What admission needs to know about a presented key."""

    def authenticate(self, presented: str) -> Principal | None:
        """The key's principal, or None when it is malformed, unknown or revoked."""
        ...

    def take_token(self, key_id: str) -> float:
        """0 when the key may make a request now (a token taken), else seconds to wait."""
        ...


@dataclass(frozen=True)
class AdmissionLimits:
    upload_max_bytes: int  # a whole upload request, multipart framing included
    small_body_bytes: int = 8 << 20  # any other request (JSON, forms)
    max_in_flight: int = 32  # uploads at once in this process; 0 = no bound
    max_in_flight_per_key: int = 8  # uploads at once for one key; 0 = no bound
    max_in_flight_per_client: int = 64  # requests at once from one peer address; 0 = off
    body_idle_timeout_s: float = 30.0  # longest wait for the next piece of a body
    body_timeout_s: float = 600.0  # longest time to receive a whole body


def presented_key(scope: Scope) -> str | None:
    """The key from ``Authorization: Bearer ...`` or ``X-API-Key``, if any."""
    headers: dict[bytes, bytes] = dict(scope.get("headers") or ())  # ASGI: (name, value) bytes
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


def is_upload(method: str, path: str) -> bool:
    return method == "POST" and (path in UPLOAD_PATHS
                                 or any(p.match(path) for p in UPLOAD_PATTERNS))


class Admission:
    """ASGI middleware applying the rules in the module docstring.

    ``checker_for(scope)`` gives the :class:`KeyChecker` at request time (the service's
    storage is attached to the app after its middleware is built). The counters are only
    touched on the event loop, with no await between a check and its increment, so they
    need no lock.
    """

    def __init__(self, app: ASGIApp, limits: AdmissionLimits,
                 checker_for: Callable[[Scope], KeyChecker]) -> None:
        self.app = app
        self.limits = limits
        self.checker_for = checker_for
        self.uploads_in_flight = 0
        self.per_key: Counter[str] = Counter()
        self.per_client: Counter[str] = Counter()
        self.refused: Counter[int] = Counter()  # status -> count, for tests and probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        cap = self.limits.max_in_flight_per_client
        if cap and self.per_client[client] >= cap:
            await self._refuse(send, 429, f"too many requests in flight from {client} "
                                          f"(at most {cap})", retry_after_s=1)
            return
        self.per_client[client] += 1
        try:
            await self._admit(scope, receive, send)
        finally:
            self.per_client[client] -= 1
            if not self.per_client[client]:
                del self.per_client[client]

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope.get("method", "GET")
        upload = is_upload(method, path)
        principal = None
        if path.startswith(API_PREFIX):
            key = presented_key(scope)
            if key is None:
                await self._refuse(send, 401, "an API key is required", scope=scope, receive=receive)
                return
            checker = self.checker_for(scope)
            principal, wait_s = await anyio.to_thread.run_sync(_check, checker, key)
            if principal is None:
                await self._refuse(send, 401, "unknown or revoked API key", scope=scope, receive=receive)
                return
            state = scope.setdefault("state", {})
            state["principal"], state["key_id"] = principal, principal.key_id
            if wait_s > 0:
                await self._refuse(send, 429, "rate limit exceeded", scope=scope, receive=receive,
                                   retry_after_s=wait_s)
                return
        max_bytes = self.limits.upload_max_bytes if upload else self.limits.small_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > max_bytes:
            await self._refuse(send, 413, f"request body is over the limit of {max_bytes:,} bytes")
            return
        if method == "POST" and path in SLOT_PATHS and principal is not None:
            await self._with_slot(scope, receive, send, principal, max_bytes)
            return
        await self._run_guarded(scope, receive, send, max_bytes)

    async def _with_slot(self, scope: Scope, receive: Receive, send: Send,
                         principal: Principal, max_bytes: int) -> None:
        limits = self.limits
        key = principal.key_id
        if limits.max_in_flight_per_key and self.per_key[key] >= limits.max_in_flight_per_key:
            await self._refuse(send, 429, f"this key has {self.per_key[key]} uploads in flight "
                                          f"(at most {limits.max_in_flight_per_key})",
                               scope=scope, receive=receive, retry_after_s=1)
            return
        if limits.max_in_flight and self.uploads_in_flight >= limits.max_in_flight:
            await self._refuse(send, 429, f"the service is at capacity ({limits.max_in_flight}"
                                          " uploads in flight); retry after 1 s",
                               scope=scope, receive=receive, retry_after_s=1)
            return
        self.uploads_in_flight += 1
        self.per_key[key] += 1
        try:
            await self._run_guarded(scope, receive, send, max_bytes)
        finally:
            self.uploads_in_flight -= 1
            self.per_key[key] -= 1
            if not self.per_key[key]:
                del self.per_key[key]

    async def _run_guarded(self, scope: Scope, receive: Receive, send: Send, max_bytes: int
                           ) -> None:
        guard = _BodyGuard(receive, send, max_bytes, self.limits, self)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.answered:
                raise
            # The app failed reading a body admission had cut (it sees a disconnect); the
            # client already has its 408 or 413, so there is nothing left to report.

    async def _refuse(self, send: Send, status: int, detail: str, scope: Scope | None = None,
                      receive: Receive | None = None, retry_after_s: float | None = None) -> None:
        """Answer without reading the body. A small declared body is drained so the client
        sees the answer rather than a connection reset; otherwise the connection ends."""
        self.refused[status] += 1
        kept = False
        if scope is not None and receive is not None:
            declared = _declared_length(scope)
            kept = declared == 0 or (declared is not None and declared <= DRAIN_MAX_BYTES
                                     and await _drain(receive))
        await send_json(send, status, {"detail": detail}, close=not kept,
                        retry_after_s=retry_after_s)


def _declared_length(scope: Scope) -> int | None:
    declared = dict(scope.get("headers") or ()).get(b"content-length", b"").strip()
    return int(declared) if declared.isdigit() else None


def _check(checker: KeyChecker, key: str) -> tuple[Principal | None, float]:
    principal = checker.authenticate(key)
    if principal is None:
        return None, 0.0
    return principal, checker.take_token(principal.key_id)


async def _drain(receive: Receive) -> bool:
    """Read and drop a small body (at most ``DRAIN_MAX_BYTES``, ``DRAIN_MAX_S``); True if
    all of it was read, so the connection can be kept."""
    drained = 0
    with anyio.move_on_after(DRAIN_MAX_S):
        while drained <= DRAIN_MAX_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return False
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
    return False


async def send_json(send: Send, status: int, body: dict[str, Any], close: bool = False,
                    retry_after_s: float | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    if retry_after_s is not None:
        headers.append((b"retry-after", retry_after_header(retry_after_s).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class _BodyGuard:
    """Wraps ``receive`` to bound a body's size and pace; answers 413/408 itself.

    After it has answered, the app is told the client went away (``http.disconnect``) and
    whatever the app then tries to send is dropped: the client already has its answer.
    """

    def __init__(self, receive: Receive, send: Send, max_bytes: int, limits: AdmissionLimits,
                 admission: Admission) -> None:
        self._receive, self._send = receive, send
        self._max_bytes, self._limits, self._admission = max_bytes, limits, admission
        self._received = 0
        self._body_done = False
        self.answered = False
        self._started = False
        self._deadline = time.monotonic() + limits.body_timeout_s

    async def receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        if self._body_done:  # after the body, the app only listens for a disconnect
            return await self._receive()
        wait_s = min(self._limits.body_idle_timeout_s, self._deadline - time.monotonic())
        message = None
        with anyio.move_on_after(max(wait_s, 0.0)):
            message = await self._receive()
        if message is None:
            slow = time.monotonic() >= self._deadline
            return await self._answer(408, "request body took longer than "
                                      f"{self._limits.body_timeout_s:g} s" if slow else
                                      "request body stalled for "
                                      f"{self._limits.body_idle_timeout_s:g} s")
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_bytes:
                return await self._answer(413, "request body is over the limit of "
                                               f"{self._max_bytes:,} bytes")
            self._body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def _answer(self, status: int, detail: str) -> Message:
        self.answered = True
        self._admission.refused[status] += 1
        if not self._started:
            await send_json(self._send, status, {"detail": detail}, close=True)
        return {"type": "http.disconnect"}
