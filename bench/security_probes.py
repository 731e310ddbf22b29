"""Security probes against the real service on loopback: what an attacker on the host tries.

    python bench/security_probes.py [--anonymous 200] [--idle-timeout 2]

Starts ``deepscreen serve`` (uvicorn, SQLite) on 127.0.0.1 and a free port over a fresh data
folder, makes keys, and runs each probe of issue #17 against it:

1. slowloris without a key: many half-sent anonymous uploads, then an authorised upload;
2. an anonymous 64 MB upload: how much of it the service read and spooled before answering;
3. a keyed slow sender: the per-key bound and the body idle timeout;
4. a streamed (chunked) body over the upload limit: 413, not 400;
5. callback URLs aimed at cloud metadata, loopback and private addresses;
6. a submitter trying to put hashes into a bank;
7. a submitter reading another submitter's scan;
8. a copied review-UI cookie after logout;
9. the database file's mode, and blob paths in a failed job's answer.

Every request goes to 127.0.0.1 and every loop is bounded in count and time. Prints one
Markdown table (probe, expected, observed, pass) for BENCHMARKS.md; exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from deepscreen.store import Database
from deepscreen.store import keys as api_keys
from load_test import HOST, service

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from media_factory import video_bytes

MAX_UPLOAD = 128 << 20  # a 64 MB upload is within it, as in the probe


def half_sent(port: int, key: str | None, declared: int = 1 << 20) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=15)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    sock.sendall((f"POST /v1/scans HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: "
                  f"multipart/form-data; boundary=b\r\nContent-Length: {declared}\r\n\r\n--b\r\n"
                  ).encode())
    return sock


def status_of(sock: socket.socket) -> int:
    """The answer's status code; 0 when none came before the socket's timeout."""
    try:
        head = sock.recv(4096).decode("latin-1")
    except TimeoutError:
        return 0
    match = re.match(r"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else 0


class Probes:
    def __init__(self, url: str, port: int, home: Path, keys: dict[str, str], args: argparse.Namespace
                 ) -> None:
        self.url, self.port, self.home, self.keys, self.args = url, port, home, keys, args
        self.rows: list[tuple[str, str, str, bool]] = []
        self.client = httpx.Client(base_url=url, timeout=30)

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def record(self, probe: str, expected: str, observed: str, ok: bool) -> None:
        self.rows.append((probe, expected, observed, ok))
        print(f"{'PASS' if ok else 'FAIL'} {probe}: {observed}", file=sys.stderr)

    def run(self, probe: Callable[[], None]) -> None:
        try:
            probe()
        except Exception as exc:  # a probe that breaks is a failed probe, not a crash
            self.record(probe.__name__, "-", f"probe error {type(exc).__name__}: {exc}", False)

    def slowloris_anonymous(self) -> None:
        n = self.args.anonymous
        started = time.perf_counter()
        socks = [half_sent(self.port, None) for _ in range(n)]
        deadline = time.monotonic() + 5  # answers "at once": 5 s for all of them is generous
        statuses: Counter[int] = Counter()
        for sock in socks:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            statuses[status_of(sock)] += 1
        answered_s = time.perf_counter() - started
        t0 = time.perf_counter()
        upload = self.client.post("/v1/scans", headers=self.h("submitter"),
                                  files={"file": ("a.bin", b"\x01" * 1000)})
        upload_ms = (time.perf_counter() - t0) * 1000
        for s in socks:
            s.close()
        ok = statuses == Counter({401: n}) and upload.status_code == 200
        seen = ", ".join(f"{count} x {'no answer' if code == 0 else code}"
                         for code, count in sorted(statuses.items()))
        self.record(f"{n} half-sent anonymous uploads, then a keyed upload",
                    f"{n} x 401 at once; the keyed upload 200",
                    f"{seen} after {answered_s:.2f} s; keyed upload "
                    f"{upload.status_code} in {upload_ms:.0f} ms", ok)

    def anonymous_large_body(self) -> None:
        sock = half_sent(self.port, None, declared=64 << 20)
        sent, chunk = 0, b"x" * (256 << 10)
        sock.settimeout(0.5)
        status = 0
        deadline = time.monotonic() + 20
        try:
            while sent < (64 << 20) and time.monotonic() < deadline:
                try:
                    sock.sendall(chunk)
                    sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    break
            sock.settimeout(5)
            try:
                status = status_of(sock)
            except OSError:
                status = -1  # reset after the answer: the answer was read by the loop's end
        finally:
            sock.close()
        # What the client could push is what the server read, plus socket buffers (a few MB).
        ok = status in (401, -1) and sent < (16 << 20)
        self.record("anonymous 64 MB upload", "401 from the headers; the body is not read",
                    f"status {status}; the client pushed {sent / 2**20:.1f} MB before the server "
                    "closed the connection (socket buffers included)", ok)

    def keyed_slow_sender(self) -> None:
        per_key = 8
        socks = [half_sent(self.port, self.keys["submitter"]) for _ in range(per_key)]
        time.sleep(0.5)
        over = self.client.post("/v1/scans", headers=self.h("submitter"),
                                files={"file": ("a.bin", b"\x01" * 100)})
        other = self.client.post("/v1/scans", headers=self.h("reviewer"),
                                 files={"file": ("a.bin", b"\x01" * 100)})
        t0 = time.perf_counter()
        cut = Counter(status_of(s) for s in socks)
        waited = time.perf_counter() - t0
        for s in socks:
            s.close()
        ok = over.status_code == 429 and other.status_code == 200 and cut == Counter({408: per_key})
        self.record(f"one key holds {per_key} stalled uploads",
                    "its next upload 429, other keys 200, stalled ones 408 after the idle timeout",
                    f"next {over.status_code}, other key {other.status_code}, stalled "
                    f"{dict(cut)} after {waited + 0.5:.1f} s (idle timeout "
                    f"{self.args.idle_timeout:g} s)", ok)

    def streamed_over_limit(self) -> None:
        def body() -> object:  # a valid multipart upload, streamed without a length
            yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
                   b"Content-Type: application/octet-stream\r\n\r\n")
            block = b"x" * (1 << 20)
            for _ in range(MAX_UPLOAD // len(block) + 8):
                yield block
            yield b"\r\n--b--\r\n"

        answer = self.client.post("/v1/scans", headers={**self.h("submitter"),
                                                        "Content-Type": "multipart/form-data; boundary=b"},
                                  content=body())
        self.record("chunked body over the upload limit", "413",
                    f"{answer.status_code} {answer.json().get('detail', '')[:60]}",
                    answer.status_code == 413)

    def ssrf(self) -> None:
        urls = ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:6379/",
                "http://localhost:22/", "http://[::1]/", "http://0x7f000001/", "http://10.0.0.1/",
                "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://192.168.0.1:8080/"]
        codes = Counter()
        for url in urls:
            answer = self.client.post("/v1/scans", headers=self.h("submitter"),
                                      files={"file": ("a.bin", b"\x02" * 100)},
                                      data={"callback_url": url})
            codes[answer.status_code] += 1
        self.record(f"{len(urls)} callback URLs at internal targets", f"{len(urls)} x 422",
                    str(dict(codes)), codes == Counter({422: len(urls)}))

    def submitter_banking(self) -> None:
        self.client.post("/v1/banks", headers=self.h("admin"), json={"name": "probe"})
        answer = self.client.post("/v1/hashes", headers=self.h("submitter"), json={
            "bank": "probe", "hashes": [{"signal_type": "sha256", "value": "a" * 64}]})
        bank = self.client.get("/v1/banks/probe", headers=self.h("admin")).json()
        ok = answer.status_code == 403 and bank["entry_count"] == 0
        self.record("submitter key adds hashes to a bank (default settings)",
                    "403; the bank stays empty",
                    f"{answer.status_code}; bank has {bank['entry_count']} entries", ok)

    def scan_scoping(self) -> None:
        scan_id = self.client.post("/v1/scans", headers=self.h("submitter"),
                                   files={"file": ("a.bin", b"\x03" * 100)}).json()["id"]
        other = self.client.get(f"/v1/scans/{scan_id}", headers=self.h("other"))
        own = self.client.get(f"/v1/scans/{scan_id}", headers=self.h("submitter"))
        self.record("another submitter reads a scan by id", "404 (own key 200)",
                    f"{other.status_code} (own key {own.status_code})",
                    other.status_code == 404 and own.status_code == 200)

    def logout(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as browser:
            form = browser.get("/ui/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            browser.post("/ui/login", data={"api_key": self.keys["reviewer"], "csrf": token})
            page = browser.get("/ui/queue").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            copied = browser.cookies.get("deepscreen_ui")
            browser.post("/ui/logout", data={"csrf": csrf})
        with httpx.Client(base_url=self.url, timeout=30, follow_redirects=False) as thief:
            thief.cookies.set("deepscreen_ui", copied, path="/ui")
            answer = thief.get("/ui/queue")
        self.record("review-UI cookie copied, then the reviewer logs out",
                    "the copy is sent to the login page (303)",
                    f"{answer.status_code} -> {answer.headers.get('location')}",
                    answer.status_code == 303)

    def files_and_paths(self) -> None:
        mode = (self.home / "service.sqlite").stat().st_mode & 0o777
        data = video_bytes()
        scan = self.client.post("/v1/scans", headers=self.h("submitter"),
                                files={"file": ("clip.mp4", data[:4000])}).json()
        deadline = time.monotonic() + 60
        body = scan
        while body.get("status") == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            body = self.client.get(f"/v1/scans/{scan['id']}", headers=self.h("submitter")).json()
        leaked = str(self.home) in str(body)
        self.record("database file mode; a broken video's answer", "0600; no server path",
                    f"{oct(mode)}; verdict {body.get('verdict')}, server path shown: {leaked}",
                    mode == 0o600 and not leaked and body.get("verdict") == "quarantine")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anonymous", type=int, default=200, help="half-sent anonymous uploads")
    parser.add_argument("--idle-timeout", type=float, default=2.0,
                        help="DEEPSCREEN_BODY_IDLE_TIMEOUT_S for the run")
    args = parser.parse_args()
    if args.anonymous > 1000:
        raise SystemExit("refusing more than 1000 connections")
    with tempfile.TemporaryDirectory(prefix="deepscreen-probes-") as tmp:
        home = Path(tmp) / "home"
        db_url = f"sqlite:///{home / 'service.sqlite'}"
        db = Database(db_url)
        db.upgrade()
        keys = {}
        with db.session() as session:
            for role, name in (("submitter", "probe-platform"), ("reviewer", "probe-ann"),
                               ("admin", "probe-ops"), ("other", "probe-other")):
                keys[role], _ = api_keys.create_key(session, name, "submitter" if role == "other"
                                                    else role, actor="bench")
        db.dispose()
        config = Path(tmp) / "scan.yaml"
        config.write_text("signals: [hashes]\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSCREEN_")}
        env.update({"DEEPSCREEN_HOME": str(home), "DEEPSCREEN_DATABASE_URL": db_url,
                    "DEEPSCREEN_CONFIG": str(config), "DEEPSCREEN_RATE_PER_S": "0",
                    "DEEPSCREEN_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
                    "DEEPSCREEN_MAX_IN_FLIGHT_PER_CLIENT": "0",  # every probe is from 127.0.0.1
                    "DEEPSCREEN_BODY_IDLE_TIMEOUT_S": str(args.idle_timeout),
                    "DEEPSCREEN_WEBHOOK_SECRET": "probes", "DEEPSCREEN_LOG_JSON": "0"})
        with service(env, Path(tmp) / "service.log") as url:
            port = int(url.rsplit(":", 1)[1])
            probes = Probes(url, port, home, keys, args)
            for probe in (probes.slowloris_anonymous, probes.anonymous_large_body,
                          probes.keyed_slow_sender, probes.streamed_over_limit, probes.ssrf,
                          probes.submitter_banking, probes.scan_scoping, probes.logout,
                          probes.files_and_paths):
                probes.run(probe)
            probes.client.close()
    print("| probe | expected | observed | pass |\n|---|---|---|---|")
    for probe, expected, observed, ok in probes.rows:
        print(f"| {probe} | {expected} | {observed} | {'yes' if ok else '**no**'} |")
    return 0 if all(ok for *_, ok in probes.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
