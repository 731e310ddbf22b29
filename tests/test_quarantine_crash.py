"""No acknowledged upload is lost when the service dies: SIGKILL mid-stream, restart, check.

The real service runs as a subprocess (``deepscreen serve``, uvicorn). Clients stream
uploads of three kinds at it: images answered in the request (allowed, not kept),
unscannable items answered in the request (quarantined: blob kept) and items over the
synchronous size limit (jobs: left pending when the first run has no job workers, as under
a backlog, or being worked on when the service dies). One more upload is slowly streamed
and never finished. The service is killed with SIGKILL while all this is in flight, then
restarted with a job worker. Every upload that got a 200 or 202 must be in the database;
every kept item's blob must be on disk with exactly its bytes; every pending job must finish.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from sqlalchemy import select  # noqa: E402

from deepscreen.store import BlobStore, Database, QuarantineEntry, Scan  # noqa: E402
from deepscreen.store import keys as api_keys  # noqa: E402
from service_harness import database_urls, wait_until  # noqa: E402

from media_factory import image_bytes  # noqa: E402

pytestmark = pytest.mark.slow

SYNC_MAX = 20_000  # bytes: the random 30 kB items become jobs, the 5 kB ones are answered now


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deepscreen() -> list[str]:
    script = Path(sys.executable).with_name("deepscreen")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from deepscreen.cli import main; main()"]


class Service:
    """``deepscreen serve`` as a child process."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen([*_deepscreen(), "serve", "--port", str(port)],
                                        env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"service exited with {self.process.returncode}: "
                                     f"{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"service did not start: {log.read_text()[-3000:]}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_urls(request.param, tmp_path) as url:
        yield url


def _items(worker: int) -> Iterator[tuple[str, bytes, str]]:
    """(name, bytes, kind of answer expected) forever, all distinct."""
    n = 0
    while True:
        seed = worker * 100_000 + n
        noise = hashlib.sha256(str(seed).encode()).digest()
        kind = ("image", "held-now", "job")[n % 3]
        if kind == "image":
            data = image_bytes("PNG", width=64, height=48, seed=seed)
        elif kind == "held-now":
            data = noise * 160  # 5 kB with no media type: quarantined in the request
        else:
            data = noise * 960  # 30 kB: over the sync limit, so a job
        yield f"w{worker}-{n}.bin", data, kind
        n += 1


def _slow_body(boundary: str, stop: threading.Event) -> Iterator[bytes]:
    """A multipart upload that trickles in and never ends while the test runs."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"slow.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    while not stop.is_set():
        yield os.urandom(4096)
        time.sleep(0.05)


@pytest.mark.parametrize("workers_before_crash", [0, 1], ids=["backlog", "working"])
def test_sigkill_loses_no_acknowledged_upload(database: str, tmp_path: Path,
                                              workers_before_crash: int) -> None:
    home = tmp_path / "home"
    db = Database(database)
    db.upgrade()
    with db.session() as session:
        key, _ = api_keys.create_key(session, "uploader", "submitter", actor="test")
    config = tmp_path / "scan.yaml"
    config.write_text("signals: [hashes]\n")
    env = {**os.environ, "DEEPSCREEN_HOME": str(home), "DEEPSCREEN_DATABASE_URL": database,
           "DEEPSCREEN_CONFIG": str(config), "DEEPSCREEN_SYNC_MAX_BYTES": str(SYNC_MAX),
           "DEEPSCREEN_RATE_PER_S": "0", "DEEPSCREEN_WEBHOOK_SECRET": "s",
           "DEEPSCREEN_WORKERS": str(workers_before_crash)}
    port = _free_port()
    log = tmp_path / "service.log"
    service = Service(env, port, log)

    acked: dict[str, tuple[bytes, str]] = {}  # scan id -> (bytes, expected answer)
    lock = threading.Lock()
    stop = threading.Event()

    def upload_forever(worker: int) -> None:
        with httpx.Client(base_url=service.url, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            for name, data, kind in _items(worker):
                if stop.is_set():
                    return
                try:
                    response = client.post("/v1/scans", files={"file": (name, data)})
                except httpx.HTTPError:
                    return  # the service died under us: this upload was never acknowledged
                assert response.status_code in (200, 202), response.text
                with lock:
                    acked[response.json()["id"]] = (data, kind)

    def slow_upload() -> None:
        boundary = "deepscreen-test-boundary"
        # The connection dies with the service: that error is the expected outcome.
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{service.url}/v1/scans", content=_slow_body(boundary, stop),
                       headers={"Authorization": f"Bearer {key}",
                                "Content-Type": f"multipart/form-data; boundary={boundary}"},
                       timeout=60)

    threads = [threading.Thread(target=upload_forever, args=(w,)) for w in range(3)]
    threads.append(threading.Thread(target=slow_upload))
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acked) >= 45, 120, "45 acknowledged uploads")
        service.kill()  # uploads are in flight right now
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        service.stop()
    with lock:
        snapshot = dict(acked)
    assert {kind for _, kind in snapshot.values()} == {"image", "held-now", "job"}

    # Straight after the crash, before any restart: everything acknowledged is stored.
    blobs = BlobStore(home / "service" / "blobs")
    with db.session() as session:
        rows = {s.id: s for s in session.scalars(select(Scan).where(Scan.id.in_(snapshot)))}
    assert set(rows) == set(snapshot), "an acknowledged upload is missing from the database"
    pending = [i for i, (_, kind) in snapshot.items() if kind == "job"]
    if workers_before_crash == 0:  # a backlog: no job could have run
        assert pending and all(rows[i].status == "pending" for i in pending)
    for scan_id, (data, kind) in snapshot.items():
        if kind != "image":
            assert blobs.path(rows[scan_id].blob_key).read_bytes() == data
    for stored in blobs.stored_keys():  # no torn blob: every file holds exactly its name's bytes
        assert hashlib.sha256(blobs.path(stored).read_bytes()).hexdigest() == stored

    # Restart with a job worker: the backlog is resumed and finished.
    service = Service({**env, "DEEPSCREEN_WORKERS": "1"}, port, log)
    try:
        def all_done() -> bool:
            with db.session() as session:
                statuses = session.scalars(select(Scan.status).where(Scan.id.in_(pending)))
                return set(statuses) == {"done"}
        wait_until(all_done, 120, "resumed jobs to finish")
    finally:
        service.stop()
    with db.session() as session:
        held = {q.scan_id: q for q in session.scalars(select(QuarantineEntry))}
        rows = {s.id: s for s in session.scalars(select(Scan).where(Scan.id.in_(snapshot)))}
    for scan_id, (data, kind) in snapshot.items():
        scan = rows[scan_id]
        assert scan.status == "done" and scan.report["schema"] == "deepscreen.report/1"
        assert scan.sha256 == hashlib.sha256(data).hexdigest()
        if kind == "image":
            assert scan.verdict == "allow" and scan_id not in held
        else:
            assert scan.verdict == "quarantine" and held[scan_id].state == "held"
            assert blobs.path(held[scan_id].blob_key).read_bytes() == data
    db.dispose()
