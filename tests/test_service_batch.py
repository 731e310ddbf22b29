"""``POST /v1/scans/batch``: several uploads in one request, each stored and queued as a job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from sqlalchemy import func, select

from deepscreen.service.routes.scans import MAX_BATCH_FILES
from deepscreen.store.blobs import BlobError
from deepscreen.store.models import Scan
from service_harness import Harness, running_service

from media_factory import image_bytes, video_bytes

RANDOM_BYTES = bytes(range(256)) * 40  # no media type: unscannable, so quarantined


def post_batch(h: Harness, files: list[tuple[str, bytes]], **form: str) -> Any:
    return h.client.post("/v1/scans/batch", headers=h.headers("submitter"), data=form,
                         files=[("files", (name, data)) for name, data in files])


def scan_count(h: Harness) -> int:
    with h.ctx.db.session() as session:
        return session.scalar(select(func.count()).select_from(Scan))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_batch_queues_every_file_and_each_finishes(backend: str, tmp_path: Path) -> None:
    files = [("a.png", image_bytes("PNG", seed=1)), ("clip.mp4", video_bytes(seconds=1.0, fps=5)),
             ("junk.bin", RANDOM_BYTES)]
    with running_service(backend, tmp_path) as h:
        response = post_batch(h, files)
        assert response.status_code == 202, response.text
        scans = response.json()["scans"]
        assert [s["source_name"] for s in scans] == ["a.png", "clip.mp4", "junk.bin"]
        done = [h.wait_done(s["id"]) for s in scans]
        assert [d["status"] for d in done] == ["done", "done", "done"]
        assert [d["verdict"] for d in done[:2]] == ["allow", "allow"]
        assert done[2]["verdict"] == "quarantine" and done[2]["quarantined"] is True
        assert done[1]["report"]["item"]["kind"] == "video"


def test_batch_files_are_jobs_even_small_images(tmp_path: Path) -> None:
    # No job workers: what the request itself did is all there is to see.
    with running_service("sqlite", tmp_path, workers=0) as h:
        response = post_batch(h, [("a.png", image_bytes("PNG", seed=1)),
                                  ("b.png", image_bytes("PNG", seed=2))])
        assert response.status_code == 202
        scans = response.json()["scans"]
        assert [(s["status"], s["report"]) for s in scans] == [("pending", None)] * 2
        assert all(h.ctx.blobs.exists(s["sha256"]) for s in scans)  # stored before the answer


def test_batch_size_is_bounded(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path) as h:
        too_many = [(f"{i}.bin", b"x") for i in range(MAX_BATCH_FILES + 1)]
        response = post_batch(h, too_many)
        assert response.status_code == 422 and "1 to 100 files" in response.json()["detail"]
        assert h.client.post("/v1/scans/batch", headers=h.headers("submitter")).status_code == 422
        assert scan_count(h) == 0


def test_each_file_costs_a_rate_limit_token(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path, rate_per_s=0.01, rate_burst=4) as h:
        five = [(f"{i}.png", image_bytes("PNG", 32, 32, seed=i)) for i in range(5)]
        over_burst = post_batch(h, five)  # can never be paid: told so, not told to retry
        assert over_burst.status_code == 422 and "burst of 4" in over_burst.json()["detail"]
        # That request spent its one token, like any request: 3 are left.
        assert post_batch(h, five[:2]).status_code == 202  # 1 left
        limited = post_batch(h, five[2:4])  # needs 2 tokens, 1 is left
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["detail"] == "rate limit: 2 files need as many tokens"
        assert scan_count(h) == 2  # nothing of the refused batches was stored


def test_bad_callback_refuses_the_whole_batch(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path) as h:
        response = post_batch(h, [("a.png", image_bytes("PNG", seed=1))],
                              callback_url="file:///etc/passwd")
        assert response.status_code == 422
        assert scan_count(h) == 0


def test_an_oversized_file_refuses_the_whole_batch(tmp_path: Path) -> None:
    # The request cap has 1 MiB of room for form overhead, so one file can be over the per-file
    # limit while the request is not: the batch must then be refused before anything is stored.
    with running_service("sqlite", tmp_path, max_upload_bytes=20_000) as h:
        small = ("a.png", image_bytes("PNG", 32, 32, seed=1))
        big = ("big.bin", bytes(30_000))
        response = post_batch(h, [small, big, small])
        assert response.status_code == 413, response.text
        detail = response.json()["detail"]
        assert "file 2 (big.bin)" in detail and "nothing was queued" in detail
        assert scan_count(h) == 0
        assert post_batch(h, [small]).status_code == 202  # a good batch still goes through


@pytest.mark.parametrize(("failure", "code"), [(BlobError("disk full"), 503),
                                               (RuntimeError("bug"), 500)])
def test_a_failure_midway_lists_the_files_already_queued(failure: Exception, code: int,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Files 1 and 2 are stored and queued before file 3 fails: they will be screened, so the
    # answer must give their ids, or the client would resend them and screen them twice.
    with running_service("sqlite", tmp_path, workers=0) as h:
        real_stage, calls = h.ctx.blobs.stage, []

        def stage_failing_third(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise failure
            return real_stage(*args, **kwargs)

        monkeypatch.setattr(h.ctx.blobs, "stage", stage_failing_third)
        files = [(f"{i}.png", image_bytes("PNG", 32, 32, seed=i)) for i in range(1, 5)]
        response = post_batch(h, files)
        assert response.status_code == code, response.text
        body = response.json()
        assert "file 3 (3.png) could not be queued" in body["detail"]
        assert "files 1-2 were queued" in body["detail"] and "files 3-4 were not" in body["detail"]
        assert [(q["file"], q["source_name"]) for q in body["queued"]] == [(1, "1.png"), (2, "2.png")]
        with h.ctx.db.session() as session:
            stored = {scan.id: scan.source_name for scan in session.scalars(select(Scan))}
        assert stored == {q["id"]: q["source_name"] for q in body["queued"]}
        if code == 500:
            assert "bug" not in body["detail"]  # internals stay in the log


def test_a_failure_on_the_first_file_is_the_plain_error(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with running_service("sqlite", tmp_path, workers=0) as h:
        def failing(*_: Any, **__: Any) -> Any:
            raise BlobError("disk full")

        monkeypatch.setattr(h.ctx.blobs, "stage", failing)
        response = post_batch(h, [("a.png", image_bytes("PNG", 32, 32, seed=1))])
        assert response.status_code == 503
        assert response.json() == {"detail": "storage unavailable: disk full"}
        assert scan_count(h) == 0
