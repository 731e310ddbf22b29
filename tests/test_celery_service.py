"""The real service with DEEPSCREEN_BROKER_URL set: HTTP uploads become Celery jobs.

``deepscreen serve`` runs as a subprocess with no job threads of its own mattering (the
executor is Celery's), two ``deepscreen worker`` processes take the jobs. Needs Redis on
127.0.0.1:6379 (skipped, saying so, otherwise).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from celery_harness import scale_out_env, wait_until  # noqa: E402
from deepscreen.store import Database  # noqa: E402
from deepscreen.store import keys as api_keys  # noqa: E402

from media_factory import image_bytes, video_bytes  # noqa: E402

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_uploads_to_the_service_are_screened_by_celery_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "scan.yaml"
    config.write_text("signals: [hashes]\n")
    with scale_out_env(tmp_path, monkeypatch, {"DEEPSCREEN_CONFIG": str(config),
                                               "DEEPSCREEN_RATE_PER_S": "0",
                                               "DEEPSCREEN_WEBHOOK_SECRET": "s"}) as (
            env, workers):
        db = Database(env["DEEPSCREEN_DATABASE_URL"])
        db.upgrade()
        with db.session() as session:
            submitter, _ = api_keys.create_key(session, "platform", "submitter", actor="test")
            admin, _ = api_keys.create_key(session, "ops", "admin", actor="test")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = (tmp_path / "service.log").open("wb")
        service = subprocess.Popen([sys.executable, "-m", "deepscreen", "serve", "--port",
                                    str(port)], env=workers.env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: _healthy(url), 60, "the service to start")
            workers.start("w1@svc", command=[sys.executable, "-m", "deepscreen", "worker",
                                             "--pool", "solo", "--hostname", "w1@svc"])
            workers.start("w2@svc", command=[sys.executable, "-m", "deepscreen", "worker",
                                             "--pool", "solo", "--hostname", "w2@svc"])
            auth = {"Authorization": f"Bearer {submitter}"}
            ids = []
            for seed in range(6):
                data = video_bytes(seed=seed, seconds=2.0)
                answer = httpx.post(f"{url}/v1/scans", headers=auth, timeout=30,
                                    files={"file": (f"clip-{seed}.mp4", data)})
                assert answer.status_code == 202, answer.text
                ids.append(answer.json()["id"])
            # A small image is still answered in the request, without the broker.
            now = httpx.post(f"{url}/v1/scans", headers=auth, timeout=30,
                             files={"file": ("photo.jpg", image_bytes("jpeg"))})
            assert now.status_code == 200 and now.json()["status"] == "done"

            def finished() -> bool:
                return all(httpx.get(f"{url}/v1/scans/{i}", headers=auth, timeout=10)
                           .json()["status"] == "done" for i in ids)

            wait_until(finished, 120, "the workers to finish the six jobs", interval_s=0.5)
            audit = [json.loads(line) for line in httpx.get(
                f"{url}/v1/audit", headers={"Authorization": f"Bearer {admin}"},
                timeout=30).text.splitlines()]
            runs = {e["subject"]: e["actor"] for e in audit if e["action"] == "job.run"}
            assert set(runs) == {f"scan:{i}" for i in ids}
            assert set(runs.values()) <= {"worker:w1@svc", "worker:w2@svc"}
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
            assert "deepscreen_job_queue_depth 0.0" in metrics
        finally:
            service.terminate()
            service.wait(30)
            log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        time.sleep(0.2)
        return False
