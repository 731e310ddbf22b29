"""The item page's view of a stored report: faces, timeline, provenance, bank matches."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from deepscreen.report import Report
from deepscreen.service.ui_report import read_stored, report_view
from deepscreen.store import records as rec
from service_harness import Harness, running_service

from media_factory import image_bytes


def _report(kind: str, findings: list[Any], action: str = "quarantine", **item: Any) -> Report:
    """A report as it is read back from storage (findings given as stored JSON)."""
    return read_stored({"schema": "deepscreen.report/1", "policy": "default",
            "item": {"source": "x", "kind": kind, "format": "jpeg", "mime": "image/jpeg",
                     "size": 1000, "sha256": "ab" * 32, "md5": "cd" * 16, **item},
            "verdict": {"action": action, "reasons": [
                {"rule": "manipulated-face", "reason": "a face appears manipulated",
                 "signals": ["faces"], "action": action}]},
            "findings": findings, "labels": [], "error": None})


def _faces(**evidence: Any) -> dict[str, Any]:
    return {"signal": "faces", "version": "1+sbi-1", "score": 0.95, "labels": ["faces:2"],
            "summary": "2 faces scored", "abstained": None, "elapsed_ms": 12.0,
            "evidence": {"model": {"name": "sbi", "version": "1", "threshold": 0.9},
                         "tracks": [{"id": 0, "score": 0.95, "max_score": 0.97, "frames": 1,
                                     "start_s": 0.0, "end_s": 0.0}], **evidence}}


FACES = [{"track": 0, "box": [10.0, 20.0, 60.0, 90.0], "score": 0.95,
          "heatmap": [[0.1, 0.9], [0.5, 0.2]]},
         {"track": 1, "box": [100, 20, 140, 70], "score": 0.2},
         {"track": 2, "box": ["evil", 0, 1, 1], "score": 0.5},  # malformed: left out
         {"track": 3, "box": [5, 5, 4, 9], "score": 0.5}]  # empty box: left out


def test_image_faces_become_boxes_over_the_preview() -> None:
    view = report_view(_report("image", [_faces(faces=FACES)], width=320, height=240))
    assert view.image_size == (320, 240)
    assert [(b.x, b.y, b.width, b.height, b.flagged) for b in view.face_boxes] == [
        (10.0, 20.0, 50.0, 70.0, True), (100.0, 20.0, 40.0, 50.0, False)]
    assert "<svg" in view.faces_html  # the heatmap grid of the top face
    assert view.previewable


def test_video_timeline_is_drawn_and_no_boxes_are_overlaid() -> None:
    timeline = [{"time_s": t, "score": s} for t, s in ((0, 0.2), (1, 0.95), (2, None), (3, 0.4))]
    view = report_view(_report("video", [_faces(faces=FACES, timeline=timeline)],
                               mime="video/mp4"))
    assert 'class="timeline"' in view.faces_html and "threshold 0.900" in view.faces_html
    assert view.face_boxes == [] and not view.previewable


def test_provenance_and_bank_matches_are_picked_out_and_bad_findings_skipped() -> None:
    findings = [
        {"signal": "c2pa", "version": "1", "score": 1.0, "labels": ["ai-declared"],
         "summary": "manifest declares trainedAlgorithmicMedia", "abstained": None,
         "evidence": {"claim_generator": "<script>x</script>"}},
        {"signal": "hashes", "version": "1", "score": 1.0, "labels": ["bank-match"],
         "summary": "match", "abstained": None,
         "evidence": {"matches": [{"bank": "ncii", "signal_type": "pdq", "distance": 4}, "junk"]}},
        {"signal": "broken", "version": "1", "score": 7.5},  # out of range: skipped
        "not a finding",
    ]
    view = report_view(_report("image", findings))
    assert [p.signal for p in view.provenance] == ["c2pa"]
    assert "<script>x</script>" in view.provenance[0].evidence_json  # escaped by the template
    assert view.bank_matches == [{"bank": "ncii", "signal_type": "pdq", "distance": 4}]
    assert "<b>broken</b>" not in view.findings_html
    assert "<script>x" not in view.findings_html and "&lt;script&gt;x" in view.findings_html


def test_generated_pixels_get_their_own_card_with_the_patch_map() -> None:
    synthetic = {"signal": "synthetic", "version": "1+synthetic_npr-1", "score": 0.93,
                 "labels": ["pixels-generated"], "summary": "pixels look generated", "abstained": None,
                 "elapsed_ms": 9.0,
                 "evidence": {"model": {"threshold": 0.86},
                              "attribution": {"family": "undetermined", "shares": {"generated": 1.0}},
                              "patch_map": {"rows": 2, "cols": 2, "patch_px": 64,
                                            "scores": [[0.9, 0.95], [0.8, 0.99]]}}}
    view = report_view(_report("image", [synthetic], action="label"))
    assert 'class="patch-map"' in view.synthetic_html and view.synthetic_html.count("<rect") == 4
    assert "above the threshold 0.860" in view.synthetic_html and "undetermined" in view.synthetic_html
    assert report_view(_report("image", [_faces(faces=FACES)])).synthetic_html == ""


def test_pending_scan_has_an_empty_view() -> None:
    view = report_view(None)
    assert view.action is None and view.reasons == [] and view.face_boxes == []


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Harness]:
    with running_service("sqlite", tmp_path) as harness:
        yield harness


def test_item_page_draws_face_boxes_on_the_image(service: Harness) -> None:
    data = image_bytes("jpeg", width=320, height=240, seed=3)
    blob = service.ctx.blobs.put_bytes(data)
    report = _report("image", [_faces(faces=FACES)], width=320, height=240,
                     sha256=hashlib.sha256(data).hexdigest())
    with service.ctx.db.session() as session:
        scan = rec.add_scan(session, sha256=blob.key, md5=blob.md5, source_name="face.jpg",
                            kind="image", size=blob.size, status="pending", submitted_by="t",
                            blob_key=blob.key)
        rec.complete_scan(session, scan, report)
        scan_id = scan.id
    form = service.client.get("/ui/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    service.client.post("/ui/login", data={"api_key": service.keys["reviewer"], "csrf": token})

    page = service.client.get(f"/ui/items/{scan_id}").text
    assert 'id="face-boxes" viewBox="0 0 320 240"' in page
    assert '<rect x="10.0" y="20.0" width="50.0" height="70.0" class="flagged">' in page
    assert 'class="face"' in page
    assert "a face appears manipulated" in page
