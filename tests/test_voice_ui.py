"""The review UI plays held audio and each segment that drove the voice score."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("itsdangerous")

from fastapi.testclient import TestClient

from deepscreen.service import ServiceSettings, create_app
from service_harness import Harness, _make_keys, database_urls
from voice_fixtures import encode_audio, speechlike, tiny_voice_model


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Harness]:
    """The app scanning with hashes and voice (a stand-in voice model, so the test is exact)."""
    model = tiny_voice_model(tmp_path / "model", weight=1.0, bias=0.0)
    config = tmp_path / "scan.yaml"
    config.write_text(f"signals: [hashes, voice]\nsignal_options: {{voice: {{model_dir: '{model}'}}}}\n")
    with database_urls("sqlite", tmp_path) as url:
        app = create_app(ServiceSettings(home=tmp_path / "home", database_url=url, config=config,
                                         webhook_secret="test-secret", rate_per_s=0))
        keys = _make_keys(app.state.ctx.db)
        with TestClient(app) as client:
            yield Harness(client=client, ctx=app.state.ctx, keys=keys)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_held_audio_is_playable_by_segment(service: Harness) -> None:
    admin = service.headers("admin")
    known = encode_audio(speechlike(8.0, seed=5))
    service.client.post("/v1/banks", headers=admin, json={"name": "clones"})
    service.client.post("/v1/banks/clones/entries", headers=admin, json={"entries": [
        {"signal_type": "sha256", "value": hashlib.sha256(known).hexdigest()}]})
    body = service.upload(known, name="call.wav").json()
    if body["status"] == "pending":  # the voice signal can outlast the synchronous wait
        body = service.wait_done(body["id"])
    assert body["quarantined"], body
    reviewer = service.headers("reviewer")
    entry_id = service.client.get(f"/v1/review/{body['id']}", headers=reviewer).json()["id"]
    form = service.client.get("/ui/login")
    service.client.post("/ui/login", data={"api_key": service.keys["reviewer"], "csrf": _csrf(form.text)})

    page = service.client.get(f"/ui/items/{entry_id}")
    assert "media-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert f'<audio controls preload="none" src="/ui/items/{entry_id}/media"></audio>' in html
    players = re.findall(rf'src="/ui/items/{entry_id}/media#t=(\d+\.\d\d),(\d+\.\d\d)"', html)
    assert len(players) == 3  # the three windows that drove the score
    assert all(float(b) - float(a) == pytest.approx(3.0) for a, b in players)
    assert 'class="voice-timeline"' in html
    media = service.client.get(f"/ui/items/{entry_id}/media")
    assert media.status_code == 200 and media.content == known
    assert media.headers["content-type"] == "audio/wav"
