"""Load test of the real service on loopback: sustained image scans, then a burst past capacity.

    python bench/load_test.py [--duration 300] [--clients 4] [--burst-clients 96]
                              [--postgres] [--signals hashes,c2pa,...]

Starts ``deepscreen serve`` (uvicorn, one process) on 127.0.0.1 and a free port over a fresh
data folder (SQLite by default; ``--postgres`` uses a throwaway schema on the local test
server, see ``tests/postgres_schema.py``), makes a submitter key, then:

1. Sustained phase: ``--clients`` threads upload small JPEGs (a few KB to about 100 KB, all
   different) back to back for ``--duration`` seconds. Reports throughput and p50/p99
   latency; every answer must be a 200 (no errors, no 429 at this load).
2. Burst phase: ``--burst-clients`` threads each send ``--burst-requests`` uploads at once,
   far beyond what the host can screen. Answers must be 200 or 429 (the upload bound, see
   ``deepscreen.service.overload``); never a 5xx, a reset or a timeout.
3. No lost items: every scan id the service acknowledged is read back from the database.

Requests go only to 127.0.0.1 and every loop is bounded in count and time. Results are
printed as a Markdown table and recorded by hand in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from sqlalchemy import select

from deepscreen.store import Database, Scan
from deepscreen.store import keys as api_keys

HOST = "127.0.0.1"  # the only address this script ever talks to
REQUEST_TIMEOUT_S = 60.0


def jpeg_pool(count: int, seed: int = 0) -> list[bytes]:
    """``count`` distinct photo-like JPEGs from about 3 KB to 100 KB."""
    rng = np.random.default_rng(seed)
    pool = []
    for i in range(count):
        width = int(rng.integers(96, 480))
        height = int(rng.integers(96, 360))
        small = rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255
        base = Image.fromarray(small.astype(np.uint8)).resize((width, height), Image.BICUBIC)
        noise = rng.normal(0, 12, (height, width, 3))
        rgb = np.clip(np.asarray(base, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=int(rng.integers(60, 90)),
                                  comment=f"load-test {i}".encode())
        pool.append(buf.getvalue())
    return pool


@dataclass
class Results:
    """What the clients saw; appended to from many threads (list.append is atomic)."""

    samples: list[tuple[str, float]] = field(default_factory=list)  # (status, ms)
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, ms: float, scan_id: str | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.samples.append((status, ms))
            if scan_id:
                self.acknowledged.append(scan_id)

    def latencies(self, status: str | None = None) -> list[float]:
        return [ms for got, ms in self.samples if status is None or got == status]


def upload_loop(url: str, key: str, pool: list[bytes], offset: int, results: Results,
                deadline: float, max_requests: int) -> None:
    """One client: uploads back to back until the deadline or ``max_requests``."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        for n in range(max_requests):
            if time.monotonic() >= deadline:
                return
            data = pool[(offset + n) % len(pool)]
            started = time.perf_counter()
            try:
                answer = client.post("/v1/scans", files={"file": (f"img-{offset}-{n}.jpg", data,
                                                                  "image/jpeg")})
            except httpx.HTTPError as exc:
                results.errors.append(f"{type(exc).__name__}: {exc}")
                results.record("error", (time.perf_counter() - started) * 1000)
                continue
            ms = (time.perf_counter() - started) * 1000
            scan_id = answer.json().get("id") if answer.status_code in (200, 202) else None
            results.record(str(answer.status_code), ms, scan_id)


def run_clients(url: str, key: str, pool: list[bytes], clients: int, seconds: float,
                max_requests: int) -> tuple[Results, float]:
    results = Results()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=upload_loop, daemon=True,
                                args=(url, key, pool, i * 7919, results, deadline, max_requests))
               for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + REQUEST_TIMEOUT_S * 2)
    return results, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database(postgres: bool, folder: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{folder / 'service.sqlite'}"
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from postgres_schema import fresh_postgres_schema, postgres_unavailable_reason

    reason = postgres_unavailable_reason()
    if reason:
        raise SystemExit(f"--postgres: {reason}")
    with fresh_postgres_schema() as url:
        yield url


@contextlib.contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[str]:
    """``deepscreen serve`` on a free loopback port; stopped with SIGTERM afterwards."""
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "deepscreen", "serve", "--host", HOST,
                             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the service did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def lost_items(db_url: str, acknowledged: list[str]) -> int:
    """How many acknowledged scan ids are missing from the database (must be 0)."""
    db = Database(db_url)
    found: set[str] = set()
    with db.session() as session:
        for start in range(0, len(acknowledged), 500):
            chunk = acknowledged[start:start + 500]
            found.update(session.scalars(select(Scan.id).where(Scan.id.in_(chunk))))
    db.dispose()
    return len(set(acknowledged) - found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="sustained seconds")
    parser.add_argument("--clients", type=int, default=4, help="sustained concurrent clients")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="cap per sustained client, whatever the duration")
    parser.add_argument("--burst-clients", type=int, default=96)
    parser.add_argument("--burst-requests", type=int, default=10, help="per burst client")
    parser.add_argument("--max-in-flight", type=int, default=16,
                        help="the service's upload bound (DEEPSCREEN_MAX_IN_FLIGHT)")
    parser.add_argument("--signals", default=None,
                        help="comma-separated signals the service runs [default: all]")
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL (a throwaway schema on the local test server)")
    args = parser.parse_args()
    if args.duration > 3600 or args.clients > 64 or args.burst_clients > 512:
        raise SystemExit("refusing an unbounded run: duration <= 3600 s, clients <= 64, "
                         "burst clients <= 512")

    pool = jpeg_pool(400)
    sizes = sorted(len(b) for b in pool)
    print(f"{len(pool)} JPEGs, {sizes[0] / 1024:.1f} to {sizes[-1] / 1024:.1f} KB "
          f"(median {statistics.median(sizes) / 1024:.1f} KB)")
    with tempfile.TemporaryDirectory(prefix="deepscreen-load-") as tmp, \
            database(args.postgres, Path(tmp)) as db_url:
        folder = Path(tmp)
        db = Database(db_url)
        db.upgrade()
        with db.session() as session:
            key, _ = api_keys.create_key(session, "load-test", "submitter", actor="bench")
        db.dispose()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DEEPSCREEN_")}
        env.update({"DEEPSCREEN_HOME": str(folder / "home"), "DEEPSCREEN_DATABASE_URL": db_url,
                    "DEEPSCREEN_RATE_PER_S": "0",  # per-key limits off: one key, many clients
                    "DEEPSCREEN_MAX_IN_FLIGHT": str(args.max_in_flight),
                    "DEEPSCREEN_WEBHOOK_SECRET": "load-test", "DEEPSCREEN_LOG_JSON": "0"})
        if args.signals:
            config = folder / "scan.yaml"
            config.write_text(f"signals: [{args.signals}]\n")
            env["DEEPSCREEN_CONFIG"] = str(config)
        log = folder / "service.log"
        with service(env, log) as url:
            warm, _ = run_clients(url, key, pool, 2, 10.0, 20)  # scanners built, caches warm
            print(f"warm-up: {sum(warm.statuses.values())} requests {dict(warm.statuses)}")
            print(f"sustained: {args.clients} clients for {args.duration:.0f} s ...", flush=True)
            steady, steady_s = run_clients(url, key, pool, args.clients, args.duration,
                                           args.max_requests)
            print(f"burst: {args.burst_clients} clients x {args.burst_requests} ...", flush=True)
            burst, burst_s = run_clients(url, key, pool, args.burst_clients, 120.0,
                                         args.burst_requests)
        acknowledged = warm.acknowledged + steady.acknowledged + burst.acknowledged
        lost = lost_items(db_url, acknowledged)

    total = sum(steady.statuses.values())
    ok = steady.statuses.get("200", 0) + steady.statuses.get("202", 0)
    print()
    print("| phase | requests | answers | accepted/s | p50 ms | p99 ms | client errors |")
    print("|---|---|---|---|---|---|---|")
    print(f"| sustained, {args.clients} clients, {steady_s:.0f} s | {total} | "
          f"{_answers(steady)} | {ok / steady_s:.1f} | {_p(steady.latencies(), 50)} | "
          f"{_p(steady.latencies(), 99)} | {len(steady.errors)} |")
    for status in ("200", "429"):
        print(f"| burst, {args.burst_clients} clients x {args.burst_requests}: the {status}s | "
              f"{sum(burst.statuses.values())} | {_answers(burst)} | "
              f"{burst.statuses.get('200', 0) / burst_s:.1f} | "
              f"{_p(burst.latencies(status), 50)} | {_p(burst.latencies(status), 99)} | "
              f"{len(burst.errors)} |")
    print()
    print(f"acknowledged scans: {len(acknowledged)}; missing from the database: {lost}")
    for error in (steady.errors + burst.errors)[:10]:
        print(f"  error: {error}")
    bad_steady = total - ok
    bad_burst = sum(n for status, n in burst.statuses.items() if status not in ("200", "429"))
    failed = bool(bad_steady or bad_burst or lost)
    print("RESULT: " + ("FAIL" if failed else "PASS") +
          f" (sustained answers other than 200/202: {bad_steady}, burst answers other than "
          f"200/429: {bad_burst}, acknowledged but lost: {lost})")
    return 1 if failed else 0


def _answers(results: Results) -> str:
    return ", ".join(f"{n} x {status}" for status, n in sorted(results.statuses.items()))


def _p(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
