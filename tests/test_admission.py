"""Admission: keys checked and slots taken from the headers, before any body is read."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.types import Scope  # noqa: E402

from deepscreen.service.admission import Admission, AdmissionLimits, presented_key  # noqa: E402
from deepscreen.store.keys import Principal  # noqa: E402
from service_harness import running_service  # noqa: E402

KEYS = {"good": Principal("k1", "platform", "submitter"),
        "other": Principal("k2", "partner", "submitter")}


class FakeKeys:
    def __init__(self, wait_s: float = 0.0) -> None:
        self.wait_s = wait_s
        self.checked: list[str] = []

    def authenticate(self, presented: str) -> Principal | None:
        self.checked.append(presented)
        return KEYS.get(presented)

    def take_token(self, key_id: str) -> float:
        return self.wait_s


class Upstream:
    """The app behind admission: records how many body bytes it read and who called."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.holding = 0
        self.body_bytes = 0
        self.principals: list[str] = []

    def app(self) -> Starlette:
        async def upload(request: Request) -> JSONResponse:
            async for chunk in request.stream():
                self.body_bytes += len(chunk)
            self.principals.append(request.state.principal.key_id)
            self.holding += 1
            await self.release.wait()
            self.holding -= 1
            return JSONResponse({"ok": True})

        async def health(_request: Request) -> JSONResponse:
            return JSONResponse({"status": "ok"})

        return Starlette(routes=[Route("/v1/scans", upload, methods=["POST"]),
                                 Route("/v1/review", upload, methods=["POST"]),
                                 Route("/healthz", health)])


def _admission(upstream: Upstream, keys: FakeKeys, **limits: object) -> Admission:
    settings = {"upload_max_bytes": 10_000, "small_body_bytes": 100, **limits}
    return Admission(upstream.app(), AdmissionLimits(**settings), checker_for=lambda _s: keys)


async def _chunks(total: int, counter: list[int], chunk: int = 1000) -> AsyncIterator[bytes]:
    for _ in range(total // chunk):
        counter[0] += chunk
        yield b"x" * chunk


def test_key_comes_from_bearer_or_x_api_key() -> None:
    def scope(*headers: tuple[bytes, bytes]) -> Scope:
        return {"type": "http", "headers": list(headers)}

    assert presented_key(scope((b"authorization", b"Bearer  dsk_a_b "))) == "dsk_a_b"
    assert presented_key(scope((b"authorization", b"bearer x"))) == "x"
    assert presented_key(scope((b"x-api-key", b"dsk_c"))) == "dsk_c"
    assert presented_key(scope((b"authorization", b"Basic Zm9v"))) is None
    assert presented_key(scope()) is None


def test_anonymous_upload_is_refused_before_its_body_is_read() -> None:
    async def scenario() -> None:
        upstream, keys = Upstream(), FakeKeys()
        gate = _admission(upstream, keys)
        sent = [0]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            anonymous = await client.post("/v1/scans", content=_chunks(9_000, sent))
            unknown = await client.post("/v1/scans", headers={"X-API-Key": "forged"},
                                        content=b"y" * 9_000)
        assert anonymous.status_code == 401
        assert anonymous.json()["detail"] == "an API key is required"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown or revoked API key"
        assert upstream.body_bytes == 0  # the app never saw a byte
        assert sent[0] <= 9_000  # at most a small drain was read, never spooled
        assert keys.checked == ["forged"]

    asyncio.run(scenario())


def test_rate_limited_key_is_refused_before_its_body() -> None:
    async def scenario() -> None:
        upstream = Upstream()
        gate = _admission(upstream, FakeKeys(wait_s=2.5))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            answer = await client.post("/v1/scans", headers={"X-API-Key": "good"}, content=b"z")
        assert answer.status_code == 429 and answer.headers["retry-after"] == "3"
        assert upstream.body_bytes == 0

    asyncio.run(scenario())


def test_declared_and_streamed_bodies_over_the_limit_get_413() -> None:
    async def scenario() -> None:
        upstream = Upstream()
        upstream.release.set()
        gate = _admission(upstream, FakeKeys())
        headers = {"X-API-Key": "good"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            declared = await client.post("/v1/scans", headers=headers, content=b"x" * 10_001)
            streamed = await client.post("/v1/scans", headers=headers,
                                         content=_chunks(20_000, [0]))
            small = await client.post("/v1/review", headers=headers, content=b"x" * 101)
            fits = await client.post("/v1/scans", headers=headers, content=b"x" * 10_000)
        assert declared.status_code == 413
        assert streamed.status_code == 413
        assert "over the limit of 10,000 bytes" in streamed.json()["detail"]
        assert small.status_code == 413  # not an upload route: the small limit holds
        assert fits.status_code == 200

    asyncio.run(scenario())


def test_slots_per_key_and_in_total_and_anonymous_take_none() -> None:
    async def scenario() -> None:
        upstream = Upstream()
        gate = _admission(upstream, FakeKeys(), max_in_flight=3, max_in_flight_per_key=2)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            def post(key: str | None) -> asyncio.Task[httpx.Response]:
                headers = {"X-API-Key": key} if key else {}
                return asyncio.create_task(client.post("/v1/scans", headers=headers, content=b"a"))

            anonymous = await asyncio.gather(*(post(None) for _ in range(10)))
            held = [post("good"), post("good"), post("other")]
            while upstream.holding < 3:
                await asyncio.sleep(0.01)
            over_key = await post("good")
            upstream_full = await post("other")
            health = await client.get("/healthz")
            upstream.release.set()
            done = await asyncio.gather(*held)
            after = await post("good")
        assert [a.status_code for a in anonymous] == [401] * 10
        assert over_key.status_code == 429 and "this key has 2 uploads" in over_key.json()["detail"]
        assert upstream_full.status_code == 429
        assert "at capacity (3 uploads in flight)" in upstream_full.json()["detail"]
        assert health.status_code == 200
        assert [d.status_code for d in done] == [200] * 3 and after.status_code == 200
        assert gate.uploads_in_flight == 0 and not gate.per_key and not gate.per_client

    asyncio.run(scenario())


def test_a_stalled_body_is_cut_with_408() -> None:
    async def scenario() -> None:
        upstream = Upstream()
        upstream.release.set()
        gate = _admission(upstream, FakeKeys(), body_idle_timeout_s=0.2)

        async def stalling() -> AsyncIterator[bytes]:
            yield b"x" * 10
            await asyncio.sleep(5)
            yield b"never"

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            started = time.monotonic()
            answer = await client.post("/v1/scans", headers={"X-API-Key": "good"},
                                       content=stalling())
            elapsed = time.monotonic() - started
        assert answer.status_code == 408
        assert "stalled for 0.2 s" in answer.json()["detail"]
        assert elapsed < 5  # cut by admission, not by the client finishing
        assert gate.uploads_in_flight == 0

    asyncio.run(scenario())


def test_requests_per_client_address_are_bounded() -> None:
    async def scenario() -> None:
        upstream = Upstream()
        gate = _admission(upstream, FakeKeys(), max_in_flight_per_client=2,
                          max_in_flight_per_key=0)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate),
                                     base_url="http://t") as client:
            held = [asyncio.create_task(client.post("/v1/scans", headers={"X-API-Key": "good"},
                                                    content=b"a")) for _ in range(2)]
            while upstream.holding < 2:
                await asyncio.sleep(0.01)
            third = await client.post("/v1/scans", headers={"X-API-Key": "other"}, content=b"a")
            upstream.release.set()
            await asyncio.gather(*held)
        assert third.status_code == 429 and "in flight from" in third.json()["detail"]

    asyncio.run(scenario())


# --- the real service, over real sockets ------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _served(app: object) -> Iterator[int]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _half_sent_upload(port: int, key: str | None, declared: int = 64 << 20) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    sock.sendall((f"POST /v1/scans HTTP/1.1\r\nHost: x\r\n{auth}"
                  "Content-Type: multipart/form-data; boundary=b\r\n"
                  f"Content-Length: {declared}\r\n\r\n--b\r\n").encode())
    return sock


def _status(sock: socket.socket) -> int:
    head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


@pytest.mark.slow
def test_slowloris_without_a_key_locks_no_one_out(tmp_path: Path) -> None:
    """The issue's probe: 33 half-sent anonymous uploads no longer fill the upload slots,
    and a keyed sender that stalls is cut by the idle timeout."""
    with running_service("sqlite", tmp_path, max_in_flight=4, max_in_flight_per_key=2,
                         body_idle_timeout_s=1.0) as h, _served(h.client.app) as port:
        anonymous = [_half_sent_upload(port, None) for _ in range(33)]
        statuses = [_status(sock) for sock in anonymous]
        assert statuses == [401] * 33  # answered at once, body unread
        keyed = [_half_sent_upload(port, h.keys["submitter"]) for _ in range(2)]
        time.sleep(0.3)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            over = client.post("/v1/scans", headers=h.headers("submitter"),
                               files={"file": ("a.bin", b"\x01" * 100)})
            other = client.post("/v1/scans", headers=h.headers("reviewer"),
                                files={"file": ("a.bin", b"\x01" * 100)})
        assert over.status_code == 429  # that key's two slots are held by its stalled uploads
        assert other.status_code == 200  # everyone else is served
        assert [_status(sock) for sock in keyed] == [408, 408]  # cut after 1 s of silence
        for sock in anonymous + keyed:
            sock.close()
