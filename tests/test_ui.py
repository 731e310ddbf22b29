"""The review UI over the real app (TestClient): login, queue, item page, decisions, safety.

The browser-driven flow is in test_ui_browser.py; these check the parts a browser test
cannot see well: escaping, headers, CSRF, roles, and refusals.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("itsdangerous")

from deepscreen.store import keys as api_keys
from service_harness import Harness, running_service

from media_factory import image_bytes

HOSTILE_NAME = "<script>alert('x')</script><img src=x onerror=alert(1)>.bin"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Harness]:
    with running_service("sqlite", tmp_path) as harness:
        yield harness


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _login(harness: Harness, role: str = "reviewer") -> str:
    """Log in through the form; returns the session's CSRF token from the queue page."""
    client = harness.client
    form = client.get("/ui/login")
    assert form.status_code == 200
    answer = client.post("/ui/login", data={"api_key": harness.keys[role],
                                            "csrf": _csrf(form.text)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/queue"
    page = client.get("/ui/queue")
    assert page.status_code == 200
    return _csrf(page.text)


def _quarantined(harness: Harness, name: str, data: bytes) -> str:
    body = harness.upload(data, name=name).json()
    assert body["quarantined"], body
    return body["id"]


def _entry_id(harness: Harness, scan_id: str) -> str:
    answer = harness.client.get(f"/v1/review/{scan_id}", headers=harness.headers("reviewer"))
    return answer.json()["id"]


def test_pages_need_a_reviewer_session(service: Harness) -> None:
    for path in ("/ui/queue", "/ui/items/whatever", "/ui/items/whatever/media"):
        answer = service.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
    service.client.cookies.set("deepscreen_ui", "eyJrIjoiYWRtaW4ifQ.x.y", path="/ui")
    forged = service.client.get("/ui/queue", follow_redirects=False)
    assert forged.status_code == 303


def test_login_refuses_submitter_keys_bad_keys_and_missing_form_token(service: Harness) -> None:
    client = service.client
    token = _csrf(client.get("/ui/login").text)
    wrong_role = client.post("/ui/login", data={"api_key": service.keys["submitter"],
                                                "csrf": token})
    assert wrong_role.status_code == 401 and "needs reviewer" in wrong_role.text
    token = _csrf(wrong_role.text)
    unknown = client.post("/ui/login", data={"api_key": "dsk_nope_nope", "csrf": token})
    assert unknown.status_code == 401 and "Unknown or revoked" in unknown.text
    no_token = client.post("/ui/login", data={"api_key": service.keys["reviewer"],
                                              "csrf": "made-up"})
    assert no_token.status_code == 401 and "expired" in no_token.text
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_session(service: Harness) -> None:
    _login(service)
    key_id = service.keys["reviewer"].split("_")[1]
    with service.ctx.db.session() as session:
        api_keys.revoke_key(session, key_id, actor="test")
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(service: Harness) -> None:
    csrf = _login(service)
    copied = service.client.cookies.get("deepscreen_ui", path="/ui")
    assert copied
    answer = service.client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
    # Someone who copied the cookie before the logout is locked out too.
    service.client.cookies.set("deepscreen_ui", copied, path="/ui")
    assert service.client.get("/ui/queue", follow_redirects=False).status_code == 303
    with service.ctx.db.session() as session:
        from deepscreen.store.models import UISessionRow
        (row,) = session.query(UISessionRow).all()
        assert row.ended_at is not None


def test_queue_and_item_escape_attacker_controlled_names(service: Harness) -> None:
    scan_id = _quarantined(service, HOSTILE_NAME, b"\x00junk that is no media" * 50)
    _login(service)
    queue = service.client.get("/ui/queue")
    assert "<script>alert" not in queue.text and "<img src=x" not in queue.text
    assert "&lt;script&gt;alert(" in queue.text
    csp = queue.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert queue.headers["x-content-type-options"] == "nosniff"

    item = service.client.get(f"/ui/items/{_entry_id(service, scan_id)}")
    assert item.status_code == 200
    assert "<script>alert" not in item.text and "&lt;script&gt;" in item.text
    assert "unscannable" in item.text  # the reason the policy gave
    # Not a raster image: no preview, and the media route refuses it.
    assert "/media\"" not in item.text
    assert service.client.get(f"/ui/items/{scan_id}/media").status_code == 404


def test_queue_filters_by_verdict_and_label(service: Harness) -> None:
    admin = service.headers("admin")
    assert service.client.post("/v1/banks", headers=admin, json={"name": "ncii"}).status_code == 201
    known = image_bytes("jpeg", seed=7)
    added = service.client.post("/v1/banks/ncii/entries", headers=admin, json={"entries": [
        {"signal_type": "sha256", "value": hashlib.sha256(known).hexdigest()}]})
    assert added.status_code == 200, added.text
    _quarantined(service, "known.jpg", known)
    _quarantined(service, "broken.bin", b"\x01not media" * 100)
    _login(service)

    blocked = service.client.get("/ui/queue", params={"action": "block"}).text
    assert "known.jpg" in blocked and "broken.bin" not in blocked
    labelled = service.client.get("/ui/queue", params={"label": "bank:ncii"}).text
    assert "known.jpg" in labelled and "broken.bin" not in labelled
    everything = service.client.get("/ui/queue", params={"state": "", "action": "bogus"}).text
    assert "known.jpg" in everything and "broken.bin" in everything


def test_image_preview_is_served_with_safe_headers_and_audited(service: Harness) -> None:
    admin = service.headers("admin")
    service.client.post("/v1/banks", headers=admin, json={"name": "ncii"})
    known = image_bytes("jpeg", seed=8)
    service.client.post("/v1/banks/ncii/entries", headers=admin, json={"entries": [
        {"signal_type": "sha256", "value": hashlib.sha256(known).hexdigest(),
         "metadata": {"case": "<b onmouseover=alert(1)>4411</b>"}}]})
    scan_id = _quarantined(service, "known.jpg", known)
    entry_id = _entry_id(service, scan_id)
    _login(service)

    page = service.client.get(f"/ui/items/{entry_id}").text
    assert f'src="/ui/items/{entry_id}/media"' in page
    assert "ncii" in page and "sha256" in page  # the bank match is shown
    assert "&lt;b onmouseover=alert(1)&gt;4411" in page and "<b onmouseover" not in page
    media = service.client.get(f"/ui/items/{entry_id}/media")
    assert media.status_code == 200 and media.content == known
    assert media.headers["content-type"] == "image/jpeg"
    assert media.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in media.headers["content-security-policy"]
    audit = service.client.get("/v1/audit", headers=admin).text
    assert '"action": "review.view-media"' in audit and '"via": "ui"' in audit


def test_decisions_need_the_csrf_token_and_a_reason(service: Harness) -> None:
    scan_id = _quarantined(service, "held.bin", b"\x02not media" * 100)
    entry_id = _entry_id(service, scan_id)
    csrf = _login(service)
    url = f"/ui/items/{entry_id}/decision"

    forged = service.client.post(url, data={"decision": "release", "reason": "fine"})
    assert forged.status_code == 403
    no_reason = service.client.post(url, data={"decision": "release", "reason": "  ",
                                               "csrf": csrf})
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    state = service.client.get(f"/v1/review/{entry_id}", headers=service.headers("reviewer"))
    assert state.json()["state"] == "held"

    done = service.client.post(url, data={"decision": "escalate", "reason": "needs legal",
                                          "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    page = service.client.get(done.headers["location"]).text
    assert "Decision recorded: escalate." in page and "needs legal" in page
    state = service.client.get(f"/v1/review/{entry_id}", headers=service.headers("reviewer"))
    assert state.json()["state"] == "escalated"


def test_confirm_into_an_unknown_bank_is_refused_and_changes_nothing(service: Harness) -> None:
    scan_id = _quarantined(service, "held.bin", b"\x03not media" * 100)
    entry_id = _entry_id(service, scan_id)
    csrf = _login(service)
    answer = service.client.post(f"/ui/items/{entry_id}/decision", data={
        "decision": "confirm", "bank": "no-such-bank", "reason": "known", "csrf": csrf})
    assert answer.status_code in (404, 409) and "no-such-bank" in answer.text
    state = service.client.get(f"/v1/review/{entry_id}", headers=service.headers("reviewer"))
    assert state.json()["state"] == "held"


def test_reviewers_approve_hash_submissions_in_the_ui(tmp_path: Path) -> None:
    with running_service("sqlite", tmp_path, submission_banks=("ncii",)) as h:
        h.client.post("/v1/banks", headers=h.headers("admin"), json={"name": "ncii"})
        photo = image_bytes("JPEG", seed=12)
        proposal = h.client.post("/v1/hashes", headers=h.headers("submitter"), json={
            "bank": "ncii", "reference": "<b>case 9</b>",
            "hashes": [{"signal_type": "sha256", "value": hashlib.sha256(photo).hexdigest(),
                        "metadata": {"note": "<script>x</script>"}}]}).json()
        csrf = _login(h)
        listing = h.client.get("/ui/submissions")
        assert listing.status_code == 200 and f"/ui/submissions/{proposal['id']}" in listing.text
        assert "&lt;b&gt;case 9&lt;/b&gt;" in listing.text and "<b>case 9" not in listing.text
        page = h.client.get(f"/ui/submissions/{proposal['id']}")
        assert "<script>x" not in page.text and hashlib.sha256(photo).hexdigest() in page.text
        path = f"/ui/submissions/{proposal['id']}/decision"
        no_reason = h.client.post(path, data={"decision": "approve", "reason": " ", "csrf": csrf})
        assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
        forged = h.client.post(path, data={"decision": "approve", "reason": "x", "csrf": "no"})
        assert forged.status_code == 403
        done = h.client.post(path, data={"decision": "approve", "reason": "victim's photo",
                                         "csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303
        assert "Decision recorded: approve." in h.client.get(done.headers["location"]).text
        assert h.upload(photo, "photo.jpg").json()["verdict"] == "block"
        again = h.client.post(path, data={"decision": "reject", "reason": "x", "csrf": csrf})
        assert again.status_code == 422 and "already approved" in again.text


def test_hostile_strings_are_shown_visibly_on_every_page(service: Harness) -> None:
    from hostile_strings import HOSTILE, RAW_FORBIDDEN

    name = HOSTILE["ansi escapes"] + HOSTILE["right-to-left override"] + HOSTILE["control characters"]
    scan_id = _quarantined(service, name[:400], b"\x00junk that is no media" * 50)
    _login(service)
    pages = [service.client.get("/ui/queue").text,
             service.client.get(f"/ui/items/{_entry_id(service, scan_id)}").text]
    for page in pages:
        for forbidden in RAW_FORBIDDEN:
            assert forbidden not in page, repr(forbidden)
        assert "invoice\\u202egpj.exe" in page
