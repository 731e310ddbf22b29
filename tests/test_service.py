"""The HTTP API end to end, on SQLite and PostgreSQL: uploads, jobs, review, auth, limits."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from PIL import Image

from deepscreen.store import keys as api_keys
from deepscreen.store.models import WebhookDelivery
from service_harness import Harness, running_service, wait_until

from media_factory import image_bytes, video_bytes

RANDOM_BYTES = bytes(range(256)) * 40  # no media type: unscannable, so quarantined


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def service(backend: str, tmp_path: Path) -> Iterator[Harness]:
    with running_service(backend, tmp_path) as harness:
        yield harness


def _audit(h: Harness) -> list[dict]:
    response = h.client.get("/v1/audit", headers=h.headers("admin"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_image_is_answered_with_its_report_and_not_kept(service: Harness) -> None:
    data = image_bytes("PNG", seed=1)
    response = service.upload(data, "holiday.png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "done" and body["verdict"] == "allow"
    assert body["report"]["schema"] == "deepscreen.report/1"
    assert body["report"]["item"]["source"] == "holiday.png"
    assert body["report"]["item"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert not body["quarantined"]
    assert not service.ctx.blobs.exists(body["sha256"])  # allowed: only hashes and report
    again = service.client.get(f"/v1/scans/{body['id']}", headers=service.headers("submitter"))
    assert again.json()["report"] == body["report"]
    assert response.headers["location"] == f"/v1/scans/{body['id']}"


def test_unscannable_item_is_quarantined_with_its_blob(service: Harness) -> None:
    body = service.upload(RANDOM_BYTES, "mystery.bin").json()
    assert body["verdict"] == "quarantine" and body["quarantined"]
    assert "unscannable" in body["labels"]
    path = service.ctx.blobs.path(hashlib.sha256(RANDOM_BYTES).hexdigest())
    assert path.read_bytes() == RANDOM_BYTES
    queue = service.client.get("/v1/review", headers=service.headers("reviewer")).json()
    assert queue["total"] == 1 and queue["entries"][0]["scan_id"] == body["id"]
    media = service.client.get(f"/v1/review/{body['id']}/media",
                               headers=service.headers("reviewer"))
    assert media.content == RANDOM_BYTES and media.headers["x-content-type-options"] == "nosniff"


def test_video_becomes_a_job_and_finishes(service: Harness) -> None:
    data = video_bytes(seconds=1.0, fps=5, seed=3)
    response = service.upload(data, "clip.mp4")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending" and response.json()["report"] is None
    done = service.wait_done(response.json()["id"])
    assert done["status"] == "done" and done["verdict"] == "allow"
    assert done["report"]["item"]["kind"] == "video"
    assert done["report"]["item"]["source"] == "clip.mp4"
    # Allowed: the blob the job needed is gone once the job is done.
    wait_until(lambda: not service.ctx.blobs.exists(done["sha256"]), 5, "blob removal")


def test_large_image_becomes_a_job(backend: str, tmp_path: Path) -> None:
    with running_service(backend, tmp_path, sync_max_bytes=1000) as h:
        data = image_bytes("PNG", seed=4)
        assert len(data) > 1000
        response = h.upload(data, "big.png")
        assert response.status_code == 202
        assert h.wait_done(response.json()["id"])["verdict"] == "allow"


def test_keys_and_roles(service: Harness) -> None:
    assert service.client.get("/v1/review").status_code == 401
    bad = {"Authorization": "Bearer dsk_0000_nope"}
    assert service.client.get("/v1/review", headers=bad).status_code == 401
    assert service.client.get("/v1/review", headers=service.headers("submitter")
                              ).status_code == 403
    assert service.client.get("/v1/audit", headers=service.headers("reviewer")).status_code == 403
    assert service.client.get("/v1/review", headers={"X-API-Key": service.keys["admin"]}
                              ).status_code == 200
    created = service.client.post("/v1/keys", headers=service.headers("admin"),
                                  json={"name": "bob", "role": "reviewer"})
    assert created.status_code == 201
    new_key = created.json()["key"]
    listed = service.client.get("/v1/keys", headers=service.headers("admin")).json()
    assert "bob" in {k["name"] for k in listed} and all("key" not in k for k in listed)
    as_bob = {"Authorization": f"Bearer {new_key}"}
    assert service.client.get("/v1/review", headers=as_bob).status_code == 200
    service.client.delete(f"/v1/keys/{created.json()['id']}", headers=service.headers("admin"))
    assert service.client.get("/v1/review", headers=as_bob).status_code == 401


def test_release_deletes_media_and_is_audited(service: Harness) -> None:
    scan_id = service.upload(RANDOM_BYTES, "mystery.bin").json()["id"]
    no_reason = service.client.post(f"/v1/review/{scan_id}", headers=service.headers("reviewer"),
                                    json={"decision": "release", "reason": ""})
    assert no_reason.status_code == 422
    response = service.client.post(f"/v1/review/{scan_id}", headers=service.headers("reviewer"),
                                   json={"decision": "release", "reason": "a test file"})
    assert response.status_code == 200, response.text
    assert response.json()["entry"]["state"] == "released"
    assert response.json()["reviewer"] == "ann"
    assert not service.ctx.blobs.exists(hashlib.sha256(RANDOM_BYTES).hexdigest())
    again = service.client.post(f"/v1/review/{scan_id}", headers=service.headers("reviewer"),
                                json={"decision": "escalate", "reason": "second thoughts"})
    assert again.status_code == 409
    events = [e for e in _audit(service) if e["action"] == "review.release"]
    assert len(events) == 1
    assert events[0]["actor"] == "ann" and events[0]["details"]["reason"] == "a test file"


def test_escalate_keeps_media(service: Harness) -> None:
    scan_id = service.upload(RANDOM_BYTES, "mystery.bin").json()["id"]
    response = service.client.post(f"/v1/review/{scan_id}", headers=service.headers("reviewer"),
                                   json={"decision": "escalate", "reason": "needs legal"})
    assert response.json()["entry"]["state"] == "escalated"
    assert service.ctx.blobs.exists(hashlib.sha256(RANDOM_BYTES).hexdigest())
    queue = service.client.get("/v1/review?state=escalated",
                               headers=service.headers("reviewer")).json()
    assert queue["total"] == 1
    detail = service.client.get(f"/v1/review/{scan_id}", headers=service.headers("reviewer"))
    assert detail.json()["report"]["verdict"]["action"] == "quarantine"
    assert [(d["decision"], d["reviewer"], d["reason"]) for d in detail.json()["decisions"]] \
        == [("escalate", "ann", "needs legal")]


HOLD_EVERYTHING = """
version: 1
name: hold-everything
default_action: quarantine
rules:
  - name: known-content
    when: {label: bank-match}
    action: block
"""


def test_confirm_banks_the_hashes_so_a_resized_copy_is_blocked(backend: str,
                                                               tmp_path: Path) -> None:
    with running_service(backend, tmp_path, policy=HOLD_EVERYTHING) as h:
        admin, reviewer = h.headers("admin"), h.headers("reviewer")
        assert h.client.post("/v1/banks", headers=admin, json={"name": "ncii"}).status_code == 201
        original = image_bytes("PNG", width=320, height=240, seed=7)
        first = h.upload(original, "first.png").json()
        assert first["verdict"] == "quarantine"
        missing_bank = h.client.post(f"/v1/review/{first['id']}", headers=reviewer,
                                     json={"decision": "confirm", "reason": "reported"})
        assert missing_bank.status_code == 409
        unknown_bank = h.client.post(f"/v1/review/{first['id']}", headers=reviewer,
                                     json={"decision": "confirm", "reason": "reported",
                                           "bank": "nope"})
        assert unknown_bank.status_code == 409 and "unknown bank" in unknown_bank.text
        confirmed = h.client.post(f"/v1/review/{first['id']}", headers=reviewer,
                                  json={"decision": "confirm", "reason": "victim report 17",
                                        "bank": "ncii"})
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["hashes_added"] == 3  # sha256, md5, pdq
        bank = h.client.get("/v1/banks/ncii", headers=admin).json()
        assert bank["entry_count"] == 3

        small = io.BytesIO()
        Image.open(io.BytesIO(original)).resize((240, 180)).save(small, "JPEG", quality=80)
        copy = h.upload(small.getvalue(), "reupload.jpg").json()
        assert copy["verdict"] == "block"
        assert {"bank-match", "bank:ncii", "pdq-match"} <= set(copy["labels"])
        exact = h.upload(original, "same.png").json()
        assert exact["verdict"] == "block" and "exact-match" in exact["labels"]


def test_banks_over_http(service: Harness) -> None:
    admin = service.headers("admin")
    assert service.client.post("/v1/banks", headers=admin, json={"name": "csam-partner"}
                               ).status_code == 201
    assert service.client.post("/v1/banks", headers=admin, json={"name": "csam-partner"}
                               ).status_code == 409
    assert service.client.get("/v1/banks", headers=service.headers("reviewer")).status_code == 403
    pdq = "f" * 32 + "0" * 32
    near = "f" * 31 + "e" + "0" * 32  # one bit away
    added = service.client.post("/v1/banks/csam-partner/entries", headers=admin, json={
        "entries": [{"signal_type": "pdq", "value": pdq, "metadata": {"case": "c1"}},
                    {"signal_type": "sha256", "value": "ab" * 32}]})
    assert added.json() == {"bank": "csam-partner", "added": 2}
    malformed = service.client.post("/v1/banks/csam-partner/entries", headers=admin,
                                    json={"entries": [{"signal_type": "md5", "value": "xyz"}]})
    assert malformed.status_code == 422 and "malformed md5" in malformed.text
    assert service.client.post("/v1/banks/nope/entries", headers=admin, json={
        "entries": [{"signal_type": "md5", "value": "a" * 32}]}).status_code == 404

    found = service.client.get("/v1/banks/lookup", headers=admin,
                               params={"type": "pdq", "value": near}).json()
    assert [(m["bank"], m["distance"]) for m in found["matches"]] == [("csam-partner", 1)]
    assert found["matches"][0]["metadata"]["case"] == "c1"
    none = service.client.get("/v1/banks/lookup", headers=admin,
                              params={"type": "sha256", "value": "cd" * 32}).json()
    assert none["matches"] == []

    exported = service.client.get("/v1/banks/csam-partner/export", headers=admin)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("collab,signal_type,signal_str") and len(lines) == 3
    service.client.post("/v1/banks", headers=admin, json={"name": "copy"})
    imported = service.client.post("/v1/banks/copy/import", headers=admin,
                                   files={"file": ("partner.csv", exported.content)})
    assert imported.json() == {"bank": "copy", "added": 2}
    bad_csv = service.client.post("/v1/banks/copy/import", headers=admin,
                                  files={"file": ("bad.csv", b"pdq,nothex\n")})
    assert bad_csv.status_code == 422 and "bad.csv:1" in bad_csv.text
    actions = {e["action"] for e in _audit(service)}
    assert {"bank.create", "bank.add", "bank.export", "bank.import"} <= actions


def test_hash_submissions_are_off_by_default(service: Harness) -> None:
    service.client.post("/v1/banks", headers=service.headers("admin"), json={"name": "ncii"})
    refused = service.client.post("/v1/hashes", headers=service.headers("submitter"), json={
        "bank": "ncii", "hashes": [{"signal_type": "sha256", "value": "0" * 64}]})
    assert refused.status_code == 403 and "not enabled" in refused.json()["detail"]


def test_hash_submission_waits_for_a_reviewer_then_blocks_uploads(backend: str,
                                                                  tmp_path: Path) -> None:
    with running_service(backend, tmp_path, submission_banks=("ncii",)) as h:
        for name in ("ncii", "partner"):
            h.client.post("/v1/banks", headers=h.headers("admin"), json={"name": name})
        photo = image_bytes("JPEG", seed=11)
        proposal = {"bank": "ncii", "reference": "case-42",
                    "hashes": [{"signal_type": "sha256", "value": hashlib.sha256(photo).hexdigest()}]}
        submitted = h.client.post("/v1/hashes", headers=h.headers("submitter"), json=proposal)
        assert submitted.status_code == 202 and submitted.json()["state"] == "pending"
        other_bank = h.client.post("/v1/hashes", headers=h.headers("submitter"),
                                   json={**proposal, "bank": "partner"})
        assert other_bank.status_code == 403  # only the banks the operator opened
        malformed = h.client.post("/v1/hashes", headers=h.headers("submitter"), json={
            **proposal, "hashes": [{"signal_type": "pdq", "value": "zz"}]})
        assert malformed.status_code == 422
        # Pending: nothing is banked, the upload goes through.
        assert h.upload(photo, "photo.jpg").json()["verdict"] == "allow"
        submission_id = submitted.json()["id"]
        queue = h.client.get("/v1/hashes/submissions", headers=h.headers("reviewer")).json()
        assert [s["id"] for s in queue["submissions"]] == [submission_id]
        decide = f"/v1/hashes/submissions/{submission_id}"
        by_submitter = h.client.post(decide, headers=h.headers("submitter"),
                                     json={"decision": "approve", "reason": "mine"})
        assert by_submitter.status_code == 403  # a submitter cannot approve its own proposal
        approved = h.client.post(decide, headers=h.headers("reviewer"),
                                 json={"decision": "approve", "reason": "victim's own photo"})
        assert approved.status_code == 200
        assert approved.json()["state"] == "approved" and approved.json()["added"] == 1
        again = h.client.post(decide, headers=h.headers("reviewer"),
                              json={"decision": "reject", "reason": "twice"})
        assert again.status_code == 422 and "already approved" in again.json()["detail"]
        status = h.client.get(decide, headers=h.headers("submitter")).json()
        assert status["state"] == "approved" and status["decided_by"] == "ann"
        body = h.upload(photo, "photo.jpg").json()
        assert body["verdict"] == "block" and "bank:ncii" in body["labels"]
        entry = next(h.ctx.banks.entries("ncii"))
        assert entry.metadata["submitted_by"] == "platform-upload"
        assert entry.metadata["approved_by"] == "ann"
        assert entry.metadata["reference"] == "case-42"
        events = {e["action"]: e for e in _audit(h)}
        assert events["hashes.submit"]["actor"] == "platform-upload"
        assert events["hashes.submit"]["details"]["key_id"] == h.keys["submitter"].split("_")[1]
        assert events["hashes.approve"]["actor"] == "ann"
        assert events["hashes.approve"]["details"]["submitted_by"] == "platform-upload"


def test_a_submitter_sees_only_its_own_scans_and_submissions(backend: str,
                                                             tmp_path: Path) -> None:
    with running_service(backend, tmp_path, submission_banks=("ncii",)) as h:
        with h.ctx.db.session() as session:
            other_key, _ = api_keys.create_key(session, "other-platform", "submitter", "test")
        other = {"Authorization": f"Bearer {other_key}"}
        scan_id = h.upload(RANDOM_BYTES, "a.bin").json()["id"]
        assert h.client.get(f"/v1/scans/{scan_id}", headers=h.headers("submitter")
                            ).status_code == 200
        assert h.client.get(f"/v1/scans/{scan_id}", headers=other).status_code == 404
        assert h.client.get(f"/v1/scans/{scan_id}", headers=h.headers("reviewer")
                            ).status_code == 200
        h.client.post("/v1/banks", headers=h.headers("admin"), json={"name": "ncii"})
        proposal = h.client.post("/v1/hashes", headers=h.headers("submitter"), json={
            "bank": "ncii", "hashes": [{"signal_type": "md5", "value": "0" * 32}]}).json()
        path = f"/v1/hashes/submissions/{proposal['id']}"
        assert h.client.get(path, headers=other).status_code == 404
        assert h.client.get("/v1/hashes/submissions", headers=other).json()["total"] == 0


def test_request_size_limit_answers_413(backend: str, tmp_path: Path) -> None:
    with running_service(backend, tmp_path, max_upload_bytes=50_000) as h:
        too_big = h.upload(b"\0" * 200_000, "big.bin")
        assert too_big.status_code == 413
        over_parse_limit = h.upload(b"\0" * 60_000, "big.bin")  # body under the +1 MiB slack
        assert over_parse_limit.status_code == 413

        def streamed() -> Iterator[bytes]:  # valid multipart, no Content-Length (chunked)
            yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.bin"'
                   b"\r\n\r\n")
            for _ in range(40):
                yield b"\0" * 65536
            yield b"\r\n--b--\r\n"
        chunked = h.client.post("/v1/scans", content=streamed(), headers={
            **h.headers("submitter"), "Content-Type": "multipart/form-data; boundary=b"})
        assert chunked.status_code == 413  # the form parser used to turn this into a 400
        assert h.upload(b"\0" * 1000, "small.bin").status_code == 200


def test_rate_limit_answers_429(backend: str, tmp_path: Path) -> None:
    with running_service(backend, tmp_path) as h:
        h.ctx.rate_limits.rate, h.ctx.rate_limits.burst = 0.01, 2
        codes = [h.client.get("/v1/scans/none", headers=h.headers("submitter")).status_code
                 for _ in range(4)]
        assert codes[:2] == [404, 404] and codes[2:] == [429, 429]
        limited = h.client.get("/v1/scans/none", headers=h.headers("submitter"))
        assert int(limited.headers["retry-after"]) >= 1
        # Buckets are per key: another key is not affected.
        assert h.client.get("/v1/scans/none", headers=h.headers("reviewer")).status_code == 404


def test_metrics(service: Harness) -> None:
    service.upload(image_bytes("PNG", seed=2), "a.png")
    service.upload(RANDOM_BYTES, "b.bin")
    text = service.client.get("/metrics").text
    assert 'deepscreen_verdicts_total{action="allow"} 1.0' in text
    assert 'deepscreen_verdicts_total{action="quarantine"} 1.0' in text
    assert 'deepscreen_http_requests_total{method="POST",route="/v1/scans",status="200"} 2.0' \
        in text
    assert "deepscreen_http_request_seconds_bucket" in text
    assert "deepscreen_job_queue_depth 0.0" in text
    health = service.client.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] in ("sqlite", "postgresql")


def test_audit_export_since_and_after_id(service: Harness) -> None:
    service.upload(RANDOM_BYTES, "a.bin")
    events = _audit(service)
    assert [e["action"] for e in events][-3:] == ["scan.submit", "scan.complete",
                                                  "quarantine.hold"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    after = service.client.get(f"/v1/audit?after_id={ids[-2]}", headers=service.headers("admin"))
    assert [json.loads(x)["id"] for x in after.text.splitlines()] == [ids[-1]]
    future = service.client.get("/v1/audit", params={"since": "2999-01-01T00:00:00Z"},
                                headers=service.headers("admin"))
    assert future.text == ""
    naive = service.client.get("/v1/audit", params={"since": "2020-01-01T00:00:00"},
                               headers=service.headers("admin"))
    assert naive.status_code == 422


def test_review_queue_filters_and_pages(service: Harness) -> None:
    for n in range(3):
        service.upload(RANDOM_BYTES + bytes([n]), f"m{n}.bin")
    reviewer = service.headers("reviewer")
    first = service.client.get("/v1/review?limit=2", headers=reviewer).json()
    second = service.client.get("/v1/review?limit=2&offset=2", headers=reviewer).json()
    assert first["total"] == 3 and len(first["entries"]) == 2 and len(second["entries"]) == 1
    names = [e["source_name"] for e in first["entries"] + second["entries"]]
    assert names == ["m0.bin", "m1.bin", "m2.bin"]
    assert service.client.get("/v1/review?label=unscannable", headers=reviewer
                              ).json()["total"] == 3
    assert service.client.get("/v1/review?label=bank:ncii", headers=reviewer).json()["total"] == 0
    assert service.client.get("/v1/review?kind=video", headers=reviewer).json()["total"] == 0
    assert service.client.get("/v1/review?action=block", headers=reviewer).json()["total"] == 0
    assert service.client.get("/v1/review?state=bogus", headers=reviewer).status_code == 422


def test_bad_callback_url_is_refused(service: Harness) -> None:
    for url in ("file:///etc/passwd", "ftp://x/y", "http://user:pw@127.0.0.1/",
                "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:6379/",
                "http://0x7f000001/", "http://[::1]/", "http://10.0.0.1/"):
        response = service.upload(RANDOM_BYTES, "a.bin", callback_url=url)
        assert response.status_code == 422, url
    with service.ctx.db.session() as session:
        assert session.query(WebhookDelivery).count() == 0


def test_webhook_delivery_rows_are_persisted(backend: str, tmp_path: Path) -> None:
    # Nothing listens on this port: the delivery is kept, retried and its error recorded.
    with running_service(backend, tmp_path, callback_hosts=("127.0.0.1",),
                         callback_ports=(9,)) as service:
        service.upload(RANDOM_BYTES, "a.bin", callback_url="http://127.0.0.1:9/hook")

        def attempted() -> bool:
            with service.ctx.db.session() as session:
                row = session.query(WebhookDelivery).one()
                return row.attempts >= 1
        wait_until(attempted, 15, "a delivery attempt")
        with service.ctx.db.session() as session:
            row = session.query(WebhookDelivery).one()
            assert row.status == "pending" and row.last_error
            assert json.loads(row.payload)["report"]["verdict"]["action"] == "quarantine"


def test_shared_blob_is_kept_until_the_last_job_needs_it(backend: str, tmp_path: Path) -> None:
    with running_service(backend, tmp_path, sync_max_bytes=100, workers=0) as h:
        data = image_bytes("PNG", seed=21)
        first = h.upload(data, "a.png").json()["id"]
        second = h.upload(data, "b.png").json()["id"]  # the same bytes: one blob, two jobs
        key = hashlib.sha256(data).hexdigest()
        scanner = h.ctx.screening.new_scanner()
        h.ctx.screening.process(first, scanner)
        assert h.ctx.blobs.exists(key), "deleted while another pending job still needed it"
        h.ctx.screening.process(first, scanner)  # a redelivered job changes nothing
        h.ctx.screening.process(second, scanner)
        assert not h.ctx.blobs.exists(key)
        scanner.close()
        for scan_id in (first, second):
            body = h.client.get(f"/v1/scans/{scan_id}", headers=h.headers("submitter")).json()
            assert body["status"] == "done" and body["verdict"] == "allow"
        completions = [e for e in _audit(h) if e["action"] == "scan.complete"]
        assert len(completions) == 2


def test_bad_uploads_get_clear_answers(service: Harness) -> None:
    empty = service.upload(b"", "empty.jpg")
    assert empty.status_code == 200 and empty.json()["verdict"] == "quarantine"
    assert "unscannable:empty" in empty.json()["labels"]
    no_file = service.client.post("/v1/scans", headers=service.headers("submitter"),
                                  data={"callback_url": "http://127.0.0.1/x"})
    assert no_file.status_code == 422
    not_multipart = service.client.post("/v1/scans", headers=service.headers("submitter"),
                                        content=b"raw bytes")
    assert not_multipart.status_code == 422
    assert service.client.get("/v1/scans/nope", headers=service.headers("submitter")
                              ).status_code == 404
    assert service.client.post("/v1/review/nope", headers=service.headers("reviewer"),
                               json={"decision": "release", "reason": "x"}).status_code == 404
    bad_decision = service.client.post("/v1/review/nope", headers=service.headers("reviewer"),
                                       json={"decision": "delete", "reason": "x"})
    assert bad_decision.status_code == 422


def test_a_failed_decode_never_shows_where_the_service_keeps_files(service: Harness) -> None:
    data = video_bytes()
    scan_id = service.upload(data[:4000], "holiday.mp4").json()["id"]  # cut short: a job
    body = service.wait_done(scan_id)
    assert body["verdict"] == "quarantine"
    text = json.dumps(body)
    assert str(service.ctx.blobs.root) not in text
    assert "holiday.mp4" in body["report"]["verdict"]["reasons"][0]["reason"]
